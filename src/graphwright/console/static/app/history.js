// A thread's checkpoint history (paged, newest first). Each checkpoint can show its
// state with what changed since its parent checkpoint, and fork: a new run from that
// checkpoint (POST /threads/{id}/runs with checkpoint_id), on this thread (LangGraph
// adds a branch; the thread's state becomes the branch's tip) or on a copy of it
// (POST /threads/{id}/copy keeps checkpoint ids, so the original stays untouched).
import { api } from "./api.js";
import { h, when, tree, errorBox, toast } from "./dom.js";

const SHOWN = 5;

const idOf = (cp) => cp?.checkpoint?.checkpoint_id ?? null;

function json(value) {
  const text = value === undefined ? "—" : JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

// Fields whose value differs between two states: [field, before, after], by field name.
export function changes(before, after) {
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])].sort();
  return keys.filter((k) => JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k]))
    .map((k) => [k, before?.[k], after?.[k]]);
}

function diffTable(rows) {
  if (!rows.length) return h("p", { class: "muted", id: "cp-nochange" }, "Nothing changed since the previous checkpoint.");
  return h("div", { class: "scroll" }, h("table", { id: "cp-changes", "aria-label": "Changes since the previous checkpoint" },
    h("thead", {}, h("tr", {}, ["Field", "Before", "After"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map(([k, before, after]) => h("tr", { "data-field": k },
      h("td", {}, h("code", {}, k)),
      h("td", { title: JSON.stringify(before) ?? "" }, h("code", {}, json(before))),
      h("td", { title: JSON.stringify(after) ?? "" }, h("code", {}, json(after))))))));
}

async function showState(panel, tid, cp) {
  const id = idOf(cp);
  const parentId = cp.parent_checkpoint?.checkpoint_id;
  panel.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    const [state, parent] = await Promise.all([
      api(`/threads/${tid}/state/${encodeURIComponent(id)}`),
      parentId ? api(`/threads/${tid}/state/${encodeURIComponent(parentId)}`) : Promise.resolve(null),
    ]);
    panel.replaceChildren(
      h("h3", {}, `State at step ${state.metadata?.step ?? "?"} `, h("code", {}, id)),
      h("p", { class: "hint" }, `${when(state.created_at)} · next: ${(state.next || []).join(", ") || "—"}`),
      h("h4", {}, parent ? "Changed since the previous checkpoint" : "The first checkpoint"),
      parent ? diffTable(changes(parent.values, state.values)) : null,
      h("h4", {}, "Values"), h("div", { class: "tree" }, tree(state.values ?? {})));
  } catch (error) { panel.replaceChildren(errorBox(error)); }
}

async function fork(panel, tid, cp, workflowId, { copy }) {
  const id = idOf(cp);
  panel.replaceChildren(h("p", { class: "muted" }, "Starting…"));
  try {
    let target = tid;
    if (copy) target = (await api(`/threads/${tid}/copy`, { method: "POST" })).thread_id;
    const run = await api(`/threads/${encodeURIComponent(target)}/runs`, { method: "POST",
      body: { assistant_id: workflowId, input: null, checkpoint_id: id } });
    toast(`Forked from step ${cp.metadata?.step ?? "?"}: run ${run.run_id.slice(0, 8)}.`);
    panel.replaceChildren(h("p", { id: "fork-result", class: "card", "data-run": run.run_id, "data-thread": target },
      `Run ${run.run_id.slice(0, 8)} started from checkpoint `, h("code", {}, id),
      copy ? h("span", {}, " on a copy: ", h("a", { href: `#/threads/${target}` }, "open the copy")) : " on this thread (it follows live above)."));
    if (copy) location.hash = `#/threads/${target}`;
  } catch (error) { panel.replaceChildren(errorBox(error)); }
}

// Render one page of history into `box`; `workflowId` is what forks run.
export async function historyPage(box, tid, workflowId, before = null, stack = []) {
  try {
    const items = await api(`/threads/${tid}/history`, { method: "POST", body: { limit: SHOWN + 1, before: before ? { configurable: { checkpoint_id: before } } : undefined } });
    const shown = items.slice(0, SHOWN);
    const byId = new Map(items.map((cp) => [idOf(cp), cp]));
    // One panel per thread page, kept across pages and reloads of the list.
    const panel = box.querySelector("#checkpoint") || h("div", { id: "checkpoint", "aria-live": "polite" });
    const list = h("ol", { class: "tree" }, shown.map((cp, i) => {
      const parent = byId.get(cp.parent_checkpoint?.checkpoint_id) ?? items[i + 1];
      const changed = changes(parent?.values || {}, cp.values || {}).map(([k]) => k);
      return h("li", { "data-checkpoint": idOf(cp), "data-step": cp.metadata?.step ?? "", "data-next": (cp.next || []).join(",") },
        h("span", {}, `step ${cp.metadata?.step ?? "?"} · ${when(cp.created_at)} · next: ${(cp.next || []).join(", ") || "—"}${changed.length ? ` · changed: ${changed.join(", ")}` : ""} `),
        h("span", { class: "actions" },
          h("button", { type: "button", class: "secondary small", "data-action": "show", onclick: () => showState(panel, tid, cp) }, "Show state"),
          workflowId ? h("button", { type: "button", class: "secondary small", "data-action": "fork", onclick: () => fork(panel, tid, cp, workflowId, { copy: false }) }, "Fork from here") : null,
          workflowId ? h("button", { type: "button", class: "secondary small", "data-action": "fork-copy", onclick: () => fork(panel, tid, cp, workflowId, { copy: true }) }, "…on a copy") : null));
    }));
    const last = idOf(shown[shown.length - 1]);
    box.replaceChildren(shown.length ? list : h("p", { class: "muted" }, "No checkpoint yet."),
      h("nav", { class: "pager", "aria-label": "History pages" },
        h("button", { type: "button", class: "secondary", disabled: !stack.length, onclick: () => historyPage(box, tid, workflowId, stack[stack.length - 1], stack.slice(0, -1)) }, "← Newer"),
        h("button", { type: "button", class: "secondary", disabled: items.length <= SHOWN, onclick: () => historyPage(box, tid, workflowId, last, [...stack, before]) }, "Older →")),
      panel);
  } catch (error) { box.replaceChildren(errorBox(error)); }
}
