// The approvals inbox (oldest first, with age and filters) and one approval with
// its decision form; someone else's earlier decision is shown as who and when.
import { api, ApiError, query } from "./api.js";
import { h, age, when, tree, errorBox, badge, toast } from "./dom.js";
import { schemaForm } from "./form.js";
import { parseMeta } from "./threads.js";

export function canDecide(me) {
  return !me || me.roles.includes("approver") || me.roles.includes("admin");
}

export async function inboxPage(main, params, me) {
  const filters = { status: params.get("status") || "pending", workflow_id: params.get("workflow_id") || "", meta: params.get("meta") || "" };
  const q = { status: filters.status, workflow_id: filters.workflow_id, limit: 100 };
  for (const [k, v] of Object.entries(parseMeta(filters.meta))) q[`metadata.${k}`] = v;
  const [workflows, items] = await Promise.all([api("/workflows"), api(`/approvals${query(q)}`)]);
  const form = h("form", { class: "card row", id: "inbox-filters", "aria-label": "Filter approvals" },
    h("div", {}, h("label", { for: "a-status" }, "Status"),
      h("select", { id: "a-status", name: "status" }, ["pending", "decided", "expired", "cancelled", "any"].map((s) => h("option", { value: s, selected: s === filters.status }, s)))),
    h("div", {}, h("label", { for: "a-workflow" }, "Workflow"),
      h("select", { id: "a-workflow", name: "workflow_id" }, h("option", { value: "" }, "(any)"),
        workflows.map((w) => h("option", { value: w.workflow_id, selected: w.workflow_id === filters.workflow_id }, w.workflow_id)))),
    h("div", {}, h("label", { for: "a-meta" }, "Metadata ", h("span", { class: "hint" }, "key=value")),
      h("input", { id: "a-meta", name: "meta", type: "text", value: filters.meta, placeholder: "client_id=acme" })),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = new URLSearchParams({ status: form.status.value, workflow_id: form.workflow_id.value, meta: form.meta.value });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    location.hash = `#/approvals?${next}`;
  });
  main.replaceChildren(
    h("h1", {}, "Approvals"),
    canDecide(me) ? null : h("p", { class: "card", id: "read-only" }, "Read-only: deciding needs the approver role."),
    form,
    items.length ? h("div", { class: "scroll" }, h("table", { id: "inbox" },
      h("thead", {}, h("tr", {}, ["Age", "Workflow", "Node", "Prompt", "Client", "Expires", "Status"].map((t) => h("th", {}, t)))),
      h("tbody", {}, items.map((a) => h("tr", { "data-approval": a.approval_id },
        h("td", {}, age(a.created_at)),
        h("td", {}, a.workflow_id),
        h("td", {}, a.node),
        h("td", {}, h("a", { href: `#/approvals/${a.approval_id}` }, a.prompt || "(no prompt)")),
        h("td", {}, a.thread_metadata?.client_id ?? ""),
        h("td", {}, a.expires_at ? when(a.expires_at) : "—"),
        h("td", {}, badge(a.status)))))))
      : h("p", { class: "muted", id: "inbox-empty" }, "Nothing waits for a decision."));
}

function decidedNote(a) {
  return h("div", { class: "card decided", id: "decided", role: "status" },
    h("strong", {}, `Decided: ${a.decision?.decision ?? a.decision ?? a.status}`),
    ` by ${a.decided_by || "someone (no authentication)"} at ${when(a.decided_at)}.`,
    a.resume_run_id ? h("span", {}, " ", h("a", { href: `#/threads/${a.thread_id}` }, "Follow the run")) : null);
}

export async function approvalPage(main, id, me) {
  const a = await api(`/approvals/${encodeURIComponent(id)}`);
  const header = [
    h("h1", {}, "Approval ", badge(a.status)),
    h("p", { id: "prompt", class: "card" }, a.prompt || "(no prompt)"),
    h("p", { class: "hint" }, `${a.workflow_id} · node ${a.node} · waiting ${age(a.created_at)}`, a.expires_at ? ` · expires ${when(a.expires_at)}` : "", " · ",
      h("a", { href: `#/threads/${a.thread_id}` }, "thread")),
    a.show && Object.keys(a.show).length ? h("section", {}, h("h2", {}, "Shown fields"), h("div", { class: "tree" }, tree(a.show))) : null,
  ];
  if (a.status !== "pending") { main.replaceChildren(...header, decidedNote(a)); return; }
  if (!canDecide(me)) {
    main.replaceChildren(...header, h("p", { class: "card", id: "read-only" }, "Read-only: deciding needs the approver role."));
    return;
  }
  let stateSchema = {};
  let values = {};
  try {
    const [schemas, state] = await Promise.all([
      api(`/assistants/${encodeURIComponent(a.workflow_id)}/schemas`),
      api(`/threads/${a.thread_id}/state`),
    ]);
    stateSchema = schemas.state_schema?.properties || {};
    values = state.values || {};
  } catch { /* edits fall back to JSON fields */ }
  const edits = schemaForm((a.editable || []).map((name) => ({
    name, schema: stateSchema[name], required: false, keepEmpty: true,
    value: a.show && name in a.show ? a.show[name] : values[name],
  })), { prefix: "edit", multiline: true });
  const editSet = h("fieldset", { id: "edits", disabled: true }, h("legend", {}, "Edited fields (decision “edit”)"), edits.element);
  const result = h("div", { id: "decide-result", "aria-live": "polite" });
  const form = h("form", { class: "card", id: "decide-form", "aria-label": "Decide" },
    h("fieldset", {}, h("legend", {}, "Decision"),
      (a.decisions || []).map((d, i) => h("label", { style: "font-weight:400" },
        h("input", { type: "radio", name: "decision", value: d, required: true, checked: i === 0 }), ` ${d}`))),
    (a.editable || []).length ? editSet : null,
    h("label", { for: "comment" }, "Comment"), h("textarea", { id: "comment", name: "comment" }),
    h("button", { type: "submit", id: "decide-btn" }, "Decide"), result);
  form.addEventListener("change", () => { editSet.disabled = form.decision.value !== "edit"; });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { decision: form.decision.value };
    if (form.comment.value.trim()) body.comment = form.comment.value;
    if (body.decision === "edit") {
      const read = edits.read();
      if (!read.ok) return;
      body.edits = read.values;
    }
    result.replaceChildren(h("p", {}, "Sending…"));
    try {
      const done = await api(`/approvals/${encodeURIComponent(id)}/decide`, { method: "POST", body });
      toast(`Decided: ${done.decision}. The run continues.`);
      location.hash = `#/threads/${done.thread_id}`;
    } catch (error) {
      if (error instanceof ApiError && error.code === "approval.already_decided") {
        const now = await api(`/approvals/${encodeURIComponent(id)}`);
        main.replaceChildren(...header, h("p", {}, "Someone else decided first."), decidedNote(now));
      } else if (error instanceof ApiError && error.code === "auth.forbidden") {
        form.replaceWith(h("p", { class: "card", id: "read-only" }, "Read-only: deciding needs the approver role."));
      } else {
        // approval.invalid_edit points at /edits/<field>[/<inside>]: shown under that field.
        for (const p of error.problem?.problems || []) {
          const [, root, name, ...inside] = String(p.pointer || "").split("/").map((x) => x.replace(/~1/g, "/").replace(/~0/g, "~"));
          if (root === "edits" && name) edits.showError(name, inside.length ? `${p.message} (at ${inside.join("/")})` : p.message);
        }
        result.replaceChildren(errorBox(error));
      }
    }
  });
  main.replaceChildren(...header, form);
}
