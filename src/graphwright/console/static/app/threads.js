// Threads: a paged, filterable list, and a thread page that follows its runs live
// over SSE (graph with node states, event log), with runs, state tree and history
// (history.js: state at a checkpoint, what changed, fork).
import { api, follow, query } from "./api.js";
import { h, badge, when, tree, errorBox } from "./dom.js";
import { LiveView, nodeLabel } from "./live.js";
import { historyPage } from "./history.js";
import { WebhookPanel } from "./webhooks.js";

const PAGE = 20;
const STATUSES = ["", "idle", "busy", "interrupted", "error"];

export function parseMeta(text) {
  const out = {};
  for (const part of String(text || "").split(",")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

const WITHIN = { "": "(any time)", "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days" };
const WITHIN_MS = { "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3, "30d": 30 * 86400e3 };

// The time filter of the list as search fields: {created_after, created_before} or the
// updated_* pair; `from`/`to` are <input type=datetime-local> values (the browser's time zone).
export function timeFilter({ time, within, from, to }, now = Date.now()) {
  const field = time === "updated" ? "updated" : "created";
  const out = {};
  const iso = (local) => { const d = new Date(local); return Number.isNaN(d.getTime()) ? undefined : d.toISOString(); };
  if (WITHIN_MS[within]) out[`${field}_after`] = new Date(now - WITHIN_MS[within]).toISOString();
  else if (from) out[`${field}_after`] = iso(from);
  if (to) out[`${field}_before`] = iso(to);
  return out;
}

export async function threadsPage(main, params) {
  const offset = Number(params.get("offset") || 0);
  const filters = {
    workflow: params.get("workflow") || "", status: params.get("status") || "", meta: params.get("meta") || "",
    time: params.get("time") === "updated" ? "updated" : "created", within: params.get("within") || "",
    from: params.get("from") || "", to: params.get("to") || "",
  };
  const metadata = parseMeta(filters.meta);
  if (filters.workflow) metadata.graph_id = filters.workflow;
  const [workflows, threads] = await Promise.all([
    api("/workflows"),
    api("/threads/search", { method: "POST", body: {
      metadata: Object.keys(metadata).length ? metadata : undefined, status: filters.status || undefined,
      ...timeFilter(filters), select: ["thread_id", "status", "metadata", "created_at", "updated_at"],
      limit: PAGE + 1, offset, sort_by: `${filters.time}_at`, sort_order: "desc" } }),
  ]);
  const more = threads.length > PAGE;
  const go = (changes) => {
    const next = new URLSearchParams({ ...filters, offset: String(offset), ...changes });
    for (const [k, v] of [...next]) if (!v || v === "0" || (k === "time" && v === "created")) next.delete(k);
    location.hash = `#/threads?${next}`;
  };
  const within = h("select", { id: "f-within", name: "within" }, Object.entries(WITHIN).map(([v, t]) => h("option", { value: v, selected: v === filters.within }, t)));
  const from = h("input", { id: "f-from", name: "from", type: "datetime-local", value: filters.from, disabled: Boolean(filters.within) });
  within.addEventListener("change", () => { from.disabled = Boolean(within.value); });
  const form = h("form", { class: "card row", id: "thread-filters", "aria-label": "Filter threads" },
    h("div", {}, h("label", { for: "f-workflow" }, "Workflow"),
      h("select", { id: "f-workflow", name: "workflow" }, h("option", { value: "" }, "(any)"),
        workflows.map((w) => h("option", { value: w.workflow_id, selected: w.workflow_id === filters.workflow }, w.workflow_id)))),
    h("div", {}, h("label", { for: "f-status" }, "Status"),
      h("select", { id: "f-status", name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "(any)")))),
    h("div", {}, h("label", { for: "f-meta" }, "Metadata ", h("span", { class: "hint" }, "key=value, comma-separated")),
      h("input", { id: "f-meta", name: "meta", type: "text", value: filters.meta, placeholder: "client_id=acme" })),
    h("div", {}, h("label", { for: "f-time" }, "Time ", h("span", { class: "hint" }, "sorts newest first")),
      h("select", { id: "f-time", name: "time" }, [["created", "created"], ["updated", "updated"]].map(([v, t]) => h("option", { value: v, selected: v === filters.time }, t)))),
    h("div", {}, h("label", { for: "f-within" }, "Within"), within),
    h("div", {}, h("label", { for: "f-from" }, "From"), from),
    h("div", {}, h("label", { for: "f-to" }, "Before"), h("input", { id: "f-to", name: "to", type: "datetime-local", value: filters.to })),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    go({ workflow: form.workflow.value, status: form.status.value, meta: form.meta.value, time: form.time.value,
      within: within.value, from: within.value ? "" : from.value, to: form.to.value, offset: "0" });
  });
  const rows = threads.slice(0, PAGE);
  main.replaceChildren(
    h("h1", {}, "Threads"), form,
    rows.length ? h("div", { class: "scroll" }, h("table", { id: "threads-table" },
      h("thead", {}, h("tr", {}, ["Thread", "Workflow", "Status", "Metadata", "Created", "Updated"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map((t) => h("tr", { "data-thread": t.thread_id },
        h("td", {}, h("a", { href: `#/threads/${t.thread_id}` }, h("code", {}, t.thread_id.slice(0, 8)))),
        h("td", {}, t.metadata?.graph_id || ""),
        h("td", {}, badge(t.status)),
        h("td", {}, Object.entries(t.metadata || {}).filter(([k]) => k !== "graph_id").map(([k, v]) => h("div", {}, h("code", {}, `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)))),
        h("td", { "data-created": t.created_at }, when(t.created_at)),
        h("td", { "data-updated": t.updated_at }, when(t.updated_at)))))))
      : h("p", { class: "muted", id: "threads-empty" }, "No thread matches."),
    h("nav", { class: "pager", "aria-label": "Pages" },
      h("button", { type: "button", class: "secondary", disabled: offset === 0, onclick: () => go({ offset: String(Math.max(0, offset - PAGE)) }) }, "← Newer"),
      h("span", {}, `${offset + 1}–${offset + rows.length}`),
      h("button", { type: "button", class: "secondary", disabled: !more, onclick: () => go({ offset: String(offset + PAGE) }) }, "Older →")));
}

function crewDetail(p) {
  const d = p.data || {};
  switch (p.type) {
    case "crew.started": return `${d.crew}: ${(d.agents || []).join(", ")} · ${d.tasks_total} tasks`;
    case "crew.agent_step": return `${d.agent || "agent"} ${d.kind === "tool_call" ? `calls ${d.tool}` : "answers"}${d.tokens !== undefined ? ` · ${d.tokens} tokens so far` : ""}`;
    case "crew.tool_used": return `${d.agent || "agent"} used ${d.tool}${d.error ? `: error ${d.error}` : ""}`;
    case "crew.task_completed": return `task ${d.tasks_done}/${d.tasks_total} by ${d.agent || "agent"}${d.tokens !== undefined ? ` · ${d.tokens} tokens so far` : ""}`;
    case "crew.usage": return `${d.status}: ${d.tokens} tokens (${d.prompt_tokens} prompt, ${d.completion_tokens} completion), ${d.successful_requests} requests`;
    default: return "";
  }
}

function eventDetail(p) {
  if (p.type.startsWith("crew.")) return crewDetail(p);
  const d = p.data || {};
  const bits = [];
  if (d.duration_ms !== undefined) bits.push(`${d.duration_ms} ms`);
  if (d.changed?.length) bits.push(`wrote ${d.changed.join(", ")}`);
  if (d.item_index !== undefined) bits.push(`item ${d.item_index}`);
  if (d.error) bits.push(`${d.error.code}: ${d.error.message}`);
  if (d.will_retry) bits.push(`retrying (attempt ${d.attempt}/${d.max_attempts})`);
  if (d.total !== undefined) bits.push(`${d.done}/${d.total}`);
  if (d.message) bits.push(d.message);
  if (d.fraction !== undefined) bits.push(`${Math.round(d.fraction * 100)} %`);
  if (d.prompt) bits.push(d.prompt);
  if (d.decision) bits.push(`${d.decision}${d.by ? ` by ${d.by}` : ""}`);
  if (d.status) bits.push(d.status);
  if (p.type === "node.rate_limited") bits.push(`waiting for ${d.limiter} (${d.limit}${d.reason === "storage_unavailable" ? ", limit storage unreachable" : ""})`);
  if (p.type === "node.rate_limit_passed") bits.push(`${d.limiter}: turn after ${d.waited_ms} ms`);
  return bits.join(" · ");
}

export async function threadPage(main, threadId, signal) {
  const tid = encodeURIComponent(threadId);
  const [thread, runs] = await Promise.all([api(`/threads/${tid}`), api(`/threads/${tid}/runs?limit=50`)]);
  const conn = h("span", { id: "conn", class: "conn", role: "status" }, "connecting…");
  const runLine = h("p", { id: "run-status" });
  const gate = h("div", { id: "gate", "aria-live": "polite" });
  const failures = h("ul", { id: "failures", class: "error" });
  const limited = h("ul", { id: "rate-limited", class: "limited", "aria-live": "polite" });
  const webhookBox = h("section", { id: "webhook-deliveries" });
  const graphBox = h("div", { class: "graph", id: "live-graph" });
  const innerBox = h("div", { id: "subworkflows" });
  const crewBox = h("div", { id: "crews" });
  const tbody = h("tbody", { id: "events" });
  const runsBox = h("div", {});
  const stateBox = h("div", { class: "tree", id: "state" });
  const historyBox = h("div", { id: "history" });
  const statusBadge = h("span", { id: "thread-status" }, badge(thread.status));
  main.replaceChildren(
    h("h1", {}, "Thread ", h("code", {}, threadId.slice(0, 8)), " ", statusBadge),
    h("p", { class: "hint" }, Object.entries(thread.metadata || {}).map(([k, v]) => h("code", { style: "margin-right:10px" }, `${k}=${JSON.stringify(v)}`))),
    h("section", { "aria-labelledby": "live-h" },
      h("h2", { id: "live-h" }, "Live run ", conn), runLine, gate, limited, failures,
      h("div", { class: "grid2" }, h("div", { class: "live-main" }, graphBox, innerBox, crewBox),
        h("div", { class: "scroll events", tabindex: 0, "aria-label": "Event log" },
          h("table", { "aria-label": "Events" }, h("thead", {}, h("tr", {}, ["#", "Time", "Event", "Node", "Details"].map((t) => h("th", {}, t)))), tbody)))),
    h("h2", {}, "Runs"), runsBox, webhookBox,
    h("div", { class: "grid2" },
      h("section", {}, h("h2", {}, "Current state"), stateBox),
      h("section", {}, h("h2", {}, "History"), historyBox)));

  const showRuns = (list) => runsBox.replaceChildren(list.length ? h("div", { class: "scroll" }, h("table", { id: "runs-table" },
    h("thead", {}, h("tr", {}, ["Run", "Workflow", "Status", "Created", "Error"].map((t) => h("th", {}, t)))),
    h("tbody", {}, list.map((r) => h("tr", { "data-run": r.run_id }, h("td", {}, h("code", {}, r.run_id.slice(0, 8))), h("td", {}, r.assistant_id),
      h("td", {}, badge(r.status)), h("td", {}, when(r.created_at)), h("td", {}, r.error ? `${r.error.code || ""} ${r.error.message || JSON.stringify(r.error)}` : "")))))) : h("p", { class: "muted" }, "No run yet."));
  const refresh = async () => {
    try {
      const [t, r, s] = await Promise.all([api(`/threads/${tid}`), api(`/threads/${tid}/runs?limit=50`), api(`/threads/${tid}/state`)]);
      statusBadge.replaceChildren(badge(t.status));
      showRuns(r);
      webhooks.show(r);
      stateBox.replaceChildren(tree(s.values ?? {}));
    } catch (error) { stateBox.replaceChildren(errorBox(error)); }
  };
  // While a run goes on, the thread's status, runs and state follow it (once per burst).
  let soon = null;
  const refreshSoon = () => {
    clearTimeout(soon);
    soon = setTimeout(() => { if (!signal.aborted) refresh(); }, 700);
  };
  const webhooks = new WebhookPanel(webhookBox, tid, signal);
  const workflowId = thread.metadata?.graph_id || runs[runs.length - 1]?.assistant_id || runs[0]?.assistant_id;
  showRuns(runs);
  refresh();
  historyPage(historyBox, tid, workflowId);

  const live = new LiveView({ graphBox, innerBox, crewBox });
  const showGraph = (id, version) => live.setWorkflow(id, version).catch((e) => graphBox.replaceChildren(errorBox(e)));
  if (workflowId) showGraph(workflowId);

  const onEvent = (event) => {
    let p;
    try { p = JSON.parse(event.data); } catch { return; }
    if (event.type === "run_done") {
      refresh();
      historyPage(historyBox, tid, workflowId);
      return;
    }
    if (event.type !== "progress") return;
    if (["run.started", "node.finished", "approval.requested", "run.finished"].includes(p.type)) refreshSoon();
    tbody.append(h("tr", { "data-event-id": event.id ?? "", "data-type": p.type },
      h("td", {}, String(event.id ?? "").split(":").pop()), h("td", {}, new Date(p.at).toLocaleTimeString()),
      h("td", {}, p.type), h("td", {}, nodeLabel(p)), h("td", {}, eventDetail(p))));
    if (p.type === "run.started") {
      runLine.replaceChildren(`Run ${p.run_id.slice(0, 8)} of ${p.workflow_id} v${p.workflow_version}: `, badge("running"));
      showGraph(p.workflow_id, p.workflow_version);
    }
    if (p.type === "run.finished") runLine.replaceChildren(`Run ${p.run_id.slice(0, 8)}: `, badge(p.data.status));
    if (p.type === "node.failed") failures.append(h("li", {}, `${nodeLabel(p)}: ${p.data.error?.code} — ${p.data.error?.message}${p.data.will_retry ? " (will retry)" : ""}`));
    // A node waiting for its turn under a rate limit, until the turn comes (or it ends).
    const waitKey = `${nodeLabel(p)}\u0000${p.data?.task_id ?? p.task_id ?? ""}`;
    if (p.type === "node.rate_limited") {
      const item = limited.querySelector(`[data-wait="${CSS.escape(waitKey)}"]`) || limited.appendChild(h("li", { "data-wait": waitKey, "data-node": nodeLabel(p) }));
      item.replaceChildren(`◷ ${nodeLabel(p)} waiting for ${p.data.limiter}${p.data.reason === "storage_unavailable" ? " (limit storage unreachable, retrying)" : ""}`);
    } else if (["node.rate_limit_passed", "node.finished", "node.failed", "run.finished"].includes(p.type)) {
      for (const item of limited.querySelectorAll("li")) {
        if (p.type === "run.finished" || item.dataset.wait === waitKey || (p.type !== "node.rate_limit_passed" && item.dataset.node === nodeLabel(p))) item.remove();
      }
    }
    if (p.type === "approval.requested") {
      gate.replaceChildren(h("div", { class: "card decided" }, `‖ Waiting for approval at ${nodeLabel(p)}: ${p.data.prompt} `,
        h("a", { href: `#/approvals/${p.data.id}`, id: "open-approval" }, "Open in the inbox")));
    }
    if (p.type === "approval.decided") {
      gate.replaceChildren(h("div", { class: "card" }, `✓ ${nodeLabel(p)} decided: ${p.data.decision}${p.data.by ? ` by ${p.data.by}` : ""}`));
    }
    live.push(p);
  };
  const statusText = { connecting: "connecting…", live: "● live", reconnecting: "reconnecting…", closed: "closed" };
  follow(`/threads/${tid}/stream?stream_mode=progress`, {
    signal,
    onEvent,
    onStatus: (s, error) => {
      conn.textContent = statusText[s] + (error ? ` (${error.code})` : "");
      conn.className = `conn ${s}`;
    },
  });
}
