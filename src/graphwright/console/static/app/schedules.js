// Schedules (crons): the list with next and last fire times, filters by workflow and
// enabled, a form that creates one (input fields from the workflow's input schema, as
// the run form), enable/disable and delete for operators; read-only for everyone else.
// A last run links through #/schedules/<cron>/runs/<run>, which finds the run's thread.
import { api, ApiError } from "./api.js";
import { h, age, when, errorBox, toast } from "./dom.js";
import { inputForm, showProblems } from "./workflows.js";
import { parseMeta } from "./threads.js";

const EVERY_MS = 5000;
const PAGE = 100;
const HERE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

export function canOperate(me) {
  return !me || me.roles.includes("operator") || me.roles.includes("admin");
}

// ---- a cron expression in words (common shapes only; null when unsure) ----

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const ALIASES = {
  "@yearly": "every year on 1 January at 00:00", "@annually": "every year on 1 January at 00:00",
  "@monthly": "on the 1st of every month at 00:00", "@weekly": "every Sunday at 00:00",
  "@daily": "every day at 00:00", "@midnight": "every day at 00:00", "@hourly": "every hour, on the hour",
};
const num = (f) => /^\d+$/.test(f);
const step = (f) => (/^\*\/(\d+)$/.exec(f) || [])[1];
const pad = (n) => String(n).padStart(2, "0");
const plural = (n, unit) => (Number(n) === 1 ? `every ${unit}` : `every ${n} ${unit}s`);

function names(field, list, offset = 0) {
  const name = (x) => list[(Number(x) - offset + list.length) % list.length] ?? x;
  return field.split(",").map((part) => {
    const range = /^(\d+)-(\d+)$/.exec(part);
    return range ? `${name(range[1])} to ${name(range[2])}` : num(part) ? name(part) : null;
  });
}

function days(dom, month, dow) {
  const bits = [];
  if (dow === "1-5") bits.push("on weekdays");
  else if (dow === "0,6" || dow === "6,0") bits.push("on weekends");
  else if (dow !== "*") {
    const n = names(dow, DAYS);
    if (n.includes(null)) return null;
    bits.push(`on ${n.join(", ")}`);
  }
  if (dom !== "*") {
    if (!dom.split(",").every(num)) return null;
    bits.push(`on day ${dom.split(",").join(", ")} of the month`);
  }
  if (month !== "*") {
    const n = names(month, MONTHS, 1);
    if (n.includes(null)) return null;
    bits.push(`in ${n.join(", ")}`);
  }
  return bits.join(" ");
}

export function describeCron(expression) {
  const text = String(expression || "").trim().toLowerCase();
  if (ALIASES[text]) return ALIASES[text];
  const f = text.split(/\s+/);
  if (f.length < 5 || f.length > 7 || (f[6] && f[6] !== "*")) return null;
  const [min, hour, dom, month, dow, sec = "0"] = f;
  const on = days(dom, month, dow);
  if (on === null) return null;
  const tail = on ? ` ${on}` : "";
  const everyDay = on ? tail : " every day";
  if (sec !== "0") {
    if (min !== "*" || hour !== "*") return null;
    if (sec === "*") return `every second${tail}`;
    if (step(sec)) return `${plural(step(sec), "second")}${tail}`;
    return num(sec) ? `every minute at second ${sec}${tail}` : null;
  }
  if (hour === "*") {
    if (min === "*") return `every minute${tail}`;
    if (step(min)) return `${plural(step(min), "minute")}${tail}`;
    if (num(min)) return `every hour at minute ${min}${tail}`;
    return null;
  }
  if (num(min) && num(hour)) return `at ${pad(hour)}:${pad(min)}${everyDay}`;
  if (num(min) && step(hour)) return `${plural(step(hour), "hour")} at minute ${min}${tail}`;
  if (num(min) && /^[\d,-]+$/.test(hour)) return `at minute ${min} of hours ${hour}${everyDay}`;
  return null;
}

// "Europe/Paris (GMT+2)": the zone with its offset now.
export function zoneText(zone) {
  const z = zone || "UTC";
  try {
    const part = new Intl.DateTimeFormat("en", { timeZone: z, timeZoneName: "shortOffset" })
      .formatToParts(new Date()).find((p) => p.type === "timeZoneName");
    return part && part.value !== z ? `${z} (${part.value})` : z;
  } catch { return z; }
}

function until(iso) {
  const ms = new Date(iso).getTime() - Date.now();
  return ms <= 0 ? "due now" : `in ${age(new Date(Date.now() - ms).toISOString())}`;
}

// A fire time: the browser's local time, with the schedule's own time when its zone differs.
function fireTime(iso, zone, relative) {
  if (!iso) return "—";
  const own = zone && zone !== HERE
    ? h("div", { class: "hint" }, `${new Date(iso).toLocaleString(undefined, { timeZone: zone })} ${zone}`) : null;
  return [h("time", { datetime: iso }, when(iso)), h("div", { class: "hint" }, relative(iso)), own];
}

// ---- the page ----

function filtersForm(workflows, filters) {
  const form = h("form", { class: "card row", id: "schedule-filters", "aria-label": "Filter schedules" },
    h("div", {}, h("label", { for: "s-workflow" }, "Workflow"),
      h("select", { id: "s-workflow", name: "workflow" }, h("option", { value: "" }, "(any)"),
        workflows.map((w) => h("option", { value: w.workflow_id, selected: w.workflow_id === filters.workflow }, w.workflow_id)))),
    h("div", {}, h("label", { for: "s-enabled" }, "Enabled"),
      h("select", { id: "s-enabled", name: "enabled" }, [["", "(any)"], ["true", "enabled"], ["false", "disabled"]]
        .map(([v, t]) => h("option", { value: v, selected: v === filters.enabled }, t)))),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams({ workflow: form.workflow.value, enabled: form.enabled.value });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.hash = `#/schedules?${next}`;
  });
  return form;
}

function enabledBadge(enabled) {
  return h("span", { class: `badge ${enabled ? "st-enabled" : "st-disabled"}` }, enabled ? "● enabled" : "○ disabled");
}

function row(c, operate, reload) {
  const act = async (button, work, done) => {
    button.disabled = true;
    try {
      await work();
      toast(done);
      await reload();
      // Keep a keyboard user's place: the same button of the redrawn row.
      document.querySelector(`#schedules tr[data-cron="${CSS.escape(c.cron_id)}"] [data-action="${button.dataset.action}"]`)?.focus();
    } catch (error) {
      button.disabled = false;
      toast(`${error.problem?.title || "Failed"}: ${error.message} (${error.code})`);
    }
  };
  const toggle = h("button", { type: "button", class: "secondary small", "data-action": "toggle" }, c.enabled ? "Disable" : "Enable");
  toggle.addEventListener("click", () => act(toggle,
    () => api(`/runs/crons/${encodeURIComponent(c.cron_id)}`, { method: "PATCH", body: { enabled: !c.enabled } }),
    `Schedule ${c.enabled ? "disabled" : "enabled"}.`));
  const remove = h("button", { type: "button", class: "secondary small", "data-action": "delete" }, "Delete");
  remove.addEventListener("click", () => {
    if (!confirm(`Delete the schedule "${c.schedule}" of ${c.assistant_id}? The runs it started stay.`)) return;
    act(remove, () => api(`/runs/crons/${encodeURIComponent(c.cron_id)}`, { method: "DELETE" }), "Schedule deleted.");
  });
  const words = describeCron(c.schedule);
  const error = c.last_error;
  return h("tr", { "data-cron": c.cron_id, "data-enabled": String(c.enabled) },
    h("td", {}, h("a", { href: `#/workflows/${encodeURIComponent(c.assistant_id)}` }, c.assistant_id),
      c.thread_id ? h("div", { class: "hint" }, "on thread ", h("a", { href: `#/threads/${c.thread_id}` }, h("code", {}, c.thread_id.slice(0, 8)))) : null,
      Object.keys(c.metadata || {}).length ? h("div", { class: "hint" }, Object.entries(c.metadata).map(([k, v]) => h("code", { style: "margin-right:6px" }, `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`))) : null),
    h("td", { "data-col": "schedule" }, h("code", {}, c.schedule), words ? h("div", {}, words) : null,
      h("div", { class: "hint" }, zoneText(c.timezone)),
      c.end_time ? h("div", { class: "hint" }, `until ${when(c.end_time)}`) : null),
    h("td", { "data-col": "enabled" }, enabledBadge(c.enabled)),
    h("td", { "data-col": "next", "data-next": c.next_run_date || "" }, fireTime(c.next_run_date, c.timezone, until)),
    h("td", { "data-col": "last", "data-last": c.last_run_date || "" }, fireTime(c.last_run_date, c.timezone, (iso) => `${age(iso)} ago`)),
    h("td", { "data-col": "run" }, c.last_run_id
      ? h("a", { href: `#/schedules/${encodeURIComponent(c.cron_id)}/runs/${encodeURIComponent(c.last_run_id)}`, "data-run": c.last_run_id },
        "run ", h("code", {}, c.last_run_id.slice(0, 8)))
      : h("span", { class: "muted" }, "not yet")),
    h("td", { "data-col": "error" }, error
      ? h("span", { class: "error" }, "✗ ", error.code || "", " ", h("span", { style: "font-weight:400" }, error.message || JSON.stringify(error)))
      : ""),
    operate ? h("td", { class: "actions" }, toggle, remove) : null);
}

function table(crons, operate, reload) {
  if (!crons.length) return h("p", { class: "muted", id: "schedules-empty" }, "No schedule matches.");
  const heads = ["Workflow", "Schedule", "Enabled", "Next fire", "Last fire", "Last run", "Last error"];
  if (operate) heads.push("Actions");
  return h("div", { class: "scroll" }, h("table", { id: "schedules" },
    h("thead", {}, h("tr", {}, heads.map((t) => h("th", {}, t)))),
    h("tbody", {}, crons.map((c) => row(c, operate, reload)))));
}

export async function schedulesPage(main, params, me, signal) {
  const filters = { workflow: params.get("workflow") || "", enabled: params.get("enabled") || "" };
  const operate = canOperate(me);
  const body = { limit: PAGE, sort_by: "created_at", sort_order: "desc",
    assistant_id: filters.workflow || undefined, enabled: filters.enabled ? filters.enabled === "true" : undefined };
  const workflows = await api("/workflows");
  const list = h("div", { id: "schedule-list", "aria-live": "polite" });
  const stamp = h("span", { class: "hint", id: "schedules-updated" });
  const auto = h("input", { type: "checkbox", id: "schedules-auto", checked: true });
  const reload = async () => {
    try {
      const crons = await api("/runs/crons/search", { method: "POST", body, signal });
      list.replaceChildren(table(crons, operate, reload));
      stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (!signal.aborted) list.replaceChildren(errorBox(error));
    }
  };
  await reload();
  main.replaceChildren(...[
    h("h1", {}, "Schedules"),
    operate ? null : h("p", { class: "card", id: "read-only" }, "Read-only: creating, changing and deleting schedules needs the operator role."),
    filtersForm(workflows, filters),
    h("div", { class: "row" },
      h("button", { type: "button", id: "schedules-refresh", class: "secondary", onclick: reload }, "Refresh"),
      h("label", { for: "schedules-auto", style: "font-weight:400" }, auto, ` refresh every ${EVERY_MS / 1000} s`), stamp),
    list,
    operate ? await createSection(workflows, filters.workflow, reload) : null].filter(Boolean));
  // Not while a control of the list has focus: a keyboard user would lose their place.
  const timer = setInterval(() => {
    if (auto.checked && !document.hidden && !list.contains(document.activeElement)) reload();
  }, EVERY_MS);
  signal.addEventListener("abort", () => clearInterval(timer));
}

// ---- the create form ----

function field(id, labelText, control, hint) {
  const error = h("div", { id: `${id}-error`, class: "error", role: "alert" });
  control.setAttribute("aria-describedby", `${id}-error${hint ? ` ${id}-hint` : ""}`);
  return { error, element: h("div", { class: "field" }, h("label", { for: id }, labelText),
    hint ? h("div", { class: "hint", id: `${id}-hint` }, hint) : null, control, error) };
}

async function createSection(workflows, chosen, reload) {
  if (!workflows.length) return h("p", { class: "muted" }, "Publish a workflow to schedule it.");
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const workflow = h("select", { id: "sch-workflow", name: "workflow", required: true },
    workflows.map((w) => h("option", { value: w.workflow_id, selected: w.workflow_id === chosen }, w.workflow_id)));
  const schedule = h("input", { id: "sch-schedule", name: "schedule", type: "text", required: true, placeholder: "0 9 * * 1-5", autocomplete: "off", spellcheck: false });
  const words = h("div", { class: "hint", id: "sch-words", "aria-live": "polite" });
  schedule.addEventListener("input", () => {
    const text = describeCron(schedule.value);
    words.textContent = schedule.value.trim() ? (text ? `= ${text}` : "") : "";
  });
  const timezone = h("input", { id: "sch-timezone", name: "timezone", type: "text", list: "sch-zones", value: HERE, autocomplete: "off" });
  const endTime = h("input", { id: "sch-end", name: "end_time", type: "datetime-local", step: 1 });
  const keep = h("input", { type: "checkbox", id: "sch-keep", checked: true });
  const enabled = h("input", { type: "checkbox", id: "sch-enabled", checked: true });
  const metadata = h("input", { id: "sch-metadata", name: "metadata", type: "text", placeholder: "team=ops, client_id=acme" });
  const f = {
    assistant_id: field("sch-workflow", "Workflow", workflow),
    schedule: field("sch-schedule", "Cron expression", schedule,
      "minute hour day-of-month month day-of-week; a 6th field is seconds (“* * * * * */10”: every 10 s); or @hourly, @daily…"),
    timezone: field("sch-timezone", "Time zone", timezone, "IANA name; the schedule follows its daylight-saving changes"),
    end_time: field("sch-end", "End time (optional)", endTime, "in the schedule's time zone; no firing after it"),
    metadata: field("sch-metadata", "Metadata (optional)", metadata, "key=value, comma-separated"),
  };
  const inputBox = h("div", {});
  let inputs = null;
  const loadInputs = async () => {
    inputBox.replaceChildren(h("p", { class: "muted" }, "Loading…"));
    try {
      inputs = await inputForm(workflow.value, { prefix: "sin" });
      inputBox.replaceChildren(inputs.element);
    } catch (error) { inputs = null; inputBox.replaceChildren(errorBox(error)); }
  };
  workflow.addEventListener("change", loadInputs);
  await loadInputs();
  const status = h("div", { id: "schedule-status", role: "status" });
  const form = h("form", { class: "card", id: "schedule-form", "aria-labelledby": "new-schedule-h", novalidate: true },
    h("h2", { id: "new-schedule-h" }, "New schedule"),
    h("div", { class: "grid2" },
      h("div", {},
        f.assistant_id.element, f.schedule.element, words, f.timezone.element, f.end_time.element,
        h("datalist", { id: "sch-zones" }, zones.map((z) => h("option", { value: z }))),
        f.metadata.element,
        h("label", { for: "sch-keep", style: "font-weight:400" }, keep, " Keep each firing's thread (otherwise it is deleted when its run ends; the run's result stays)"),
        h("label", { for: "sch-enabled", style: "font-weight:400" }, enabled, " Enabled")),
      h("fieldset", {}, h("legend", {}, "Input of each run"), inputBox)),
    h("button", { type: "submit", id: "schedule-create" }, "Create schedule"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const x of Object.values(f)) x.error.textContent = "";
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    const read = inputs ? inputs.read() : { ok: false, values: {} };
    let ok = read.ok;
    if (!schedule.value.trim()) { f.schedule.error.textContent = "A cron expression is required."; ok = false; }
    if (!ok) { status.replaceChildren(h("p", { class: "error" }, "Fix the fields marked above.")); markInvalid(form); return; }
    const body = {
      assistant_id: workflow.value, schedule: schedule.value.trim(), input: read.values,
      timezone: timezone.value.trim() || undefined, enabled: enabled.checked,
      on_run_completed: keep.checked ? "keep" : "delete",
    };
    // datetime-local without an offset: the API reads it in the schedule's time zone.
    if (endTime.value) body.end_time = endTime.value.length === 16 ? `${endTime.value}:00` : endTime.value;
    const meta = parseMeta(metadata.value);
    if (Object.keys(meta).length) body.metadata = meta;
    status.replaceChildren(h("p", {}, "Creating…"));
    try {
      const made = await api("/runs/crons", { method: "POST", body });
      status.replaceChildren(h("p", { class: "ok", id: "schedule-created", "data-cron": made.cron_id },
        `✓ Created: ${made.assistant_id} ${describeCron(made.schedule) || made.schedule}; next at ${when(made.next_run_date) || "—"}.`));
      toast(`Schedule created for ${made.assistant_id}.`);
      await reload();
    } catch (error) {
      const others = Object.fromEntries(Object.entries(f).map(([k, x]) => [k, x.error]));
      const shown = inputs ? showProblems(error, inputs, others) : 0;
      markInvalid(form);
      status.replaceChildren(shown && error instanceof ApiError
        ? h("p", { class: "error" }, `✗ ${error.code}: see the field${shown > 1 ? "s" : ""} marked above.`)
        : errorBox(error));
      form.querySelector("[aria-invalid=true]")?.focus();
    }
  });
  return form;
}

// aria-invalid on every control whose error line has text.
function markInvalid(form) {
  for (const error of form.querySelectorAll(".error[id$='-error']")) {
    const control = form.querySelector(`#${CSS.escape(error.id.slice(0, -6))}`);
    if (control && error.textContent) control.setAttribute("aria-invalid", "true");
  }
}

// #/schedules/<cron>/runs/<run>: open the thread the run ran on. A cron on a thread
// names it; otherwise each firing had a new thread with metadata.cron_id.
export async function scheduleRunPage(main, cronId, runId) {
  const cron = await api(`/runs/crons/${encodeURIComponent(cronId)}`);
  let threadId = cron.thread_id;
  if (!threadId) {
    const threads = await api("/threads/search", { method: "POST", body: {
      metadata: { cron_id: cronId }, limit: 20, sort_by: "created_at", sort_order: "desc", select: ["thread_id"] } });
    for (const t of threads) {
      try {
        await api(`/threads/${encodeURIComponent(t.thread_id)}/runs/${encodeURIComponent(runId)}`);
        threadId = t.thread_id;
        break;
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 404)) throw error;
      }
    }
  }
  if (threadId) { location.replace(`#/threads/${threadId}`); return; }
  main.replaceChildren(h("h1", {}, "Run ", h("code", {}, runId.slice(0, 8))),
    h("p", { class: "card", id: "run-gone" }, cron.on_run_completed === "delete"
      ? "This schedule deletes each firing's thread when its run ends, so there is no thread to open. Create schedules with “Keep each firing's thread” to follow their runs here."
      : "The thread of this run is gone (deleted, or its time to live ran out)."),
    h("p", {}, h("a", { href: "#/schedules" }, "Back to schedules")));
}

