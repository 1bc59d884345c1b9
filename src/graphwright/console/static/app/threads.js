// Threads: a paged, filterable list, and a thread page that follows its runs live
// over SSE (graph with node states, event log), with runs, state tree and history
// (history.js: state at a checkpoint, what changed, fork).
import { api, follow, query } from "./api.js";
import { h, badge, when, tree, errorBox } from "./dom.js";
import { renderGraph } from "./graph.js";
import { historyPage } from "./history.js";

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

export async function threadsPage(main, params) {
  const offset = Number(params.get("offset") || 0);
  const filters = { workflow: params.get("workflow") || "", status: params.get("status") || "", meta: params.get("meta") || "" };
  const metadata = parseMeta(filters.meta);
  if (filters.workflow) metadata.graph_id = filters.workflow;
  const [workflows, threads] = await Promise.all([
    api("/workflows"),
    api("/threads/search", { method: "POST", body: {
      metadata: Object.keys(metadata).length ? metadata : undefined, status: filters.status || undefined,
      limit: PAGE + 1, offset, sort_by: "created_at", sort_order: "desc" } }),
  ]);
  const more = threads.length > PAGE;
  const go = (changes) => {
    const next = new URLSearchParams({ ...filters, offset: String(offset), ...changes });
    for (const [k, v] of [...next]) if (!v || v === "0") next.delete(k);
    location.hash = `#/threads?${next}`;
  };
  const form = h("form", { class: "card row", id: "thread-filters", "aria-label": "Filter threads" },
    h("div", {}, h("label", { for: "f-workflow" }, "Workflow"),
      h("select", { id: "f-workflow", name: "workflow" }, h("option", { value: "" }, "(any)"),
        workflows.map((w) => h("option", { value: w.workflow_id, selected: w.workflow_id === filters.workflow }, w.workflow_id)))),
    h("div", {}, h("label", { for: "f-status" }, "Status"),
      h("select", { id: "f-status", name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "(any)")))),
    h("div", {}, h("label", { for: "f-meta" }, "Metadata ", h("span", { class: "hint" }, "key=value, comma-separated")),
      h("input", { id: "f-meta", name: "meta", type: "text", value: filters.meta, placeholder: "client_id=acme" })),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    go({ workflow: form.workflow.value, status: form.status.value, meta: form.meta.value, offset: "0" });
  });
  const rows = threads.slice(0, PAGE);
  main.replaceChildren(
    h("h1", {}, "Threads"), form,
    rows.length ? h("div", { class: "scroll" }, h("table", { id: "threads-table" },
      h("thead", {}, h("tr", {}, ["Thread", "Workflow", "Status", "Metadata", "Updated"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows.map((t) => h("tr", { "data-thread": t.thread_id },
        h("td", {}, h("a", { href: `#/threads/${t.thread_id}` }, h("code", {}, t.thread_id.slice(0, 8)))),
        h("td", {}, t.metadata?.graph_id || ""),
        h("td", {}, badge(t.status)),
        h("td", {}, Object.entries(t.metadata || {}).filter(([k]) => k !== "graph_id").map(([k, v]) => h("div", {}, h("code", {}, `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)))),
        h("td", {}, when(t.updated_at)))))))
      : h("p", { class: "muted", id: "threads-empty" }, "No thread matches."),
    h("nav", { class: "pager", "aria-label": "Pages" },
      h("button", { type: "button", class: "secondary", disabled: offset === 0, onclick: () => go({ offset: String(Math.max(0, offset - PAGE)) }) }, "← Newer"),
      h("span", {}, `${offset + 1}–${offset + rows.length}`),
      h("button", { type: "button", class: "secondary", disabled: !more, onclick: () => go({ offset: String(offset + PAGE) }) }, "Older →")));
}

function eventDetail(p) {
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
  return bits.join(" · ");
}

export async function threadPage(main, threadId, signal) {
  const tid = encodeURIComponent(threadId);
  const [thread, runs] = await Promise.all([api(`/threads/${tid}`), api(`/threads/${tid}/runs?limit=50`)]);
  const conn = h("span", { id: "conn", class: "conn", role: "status" }, "connecting…");
  const runLine = h("p", { id: "run-status" });
  const gate = h("div", { id: "gate", "aria-live": "polite" });
  const failures = h("ul", { id: "failures", class: "error" });
  const graphBox = h("div", { class: "graph", id: "live-graph" });
  const tbody = h("tbody", { id: "events" });
  const runsBox = h("div", {});
  const stateBox = h("div", { class: "tree", id: "state" });
  const historyBox = h("div", { id: "history" });
  const statusBadge = h("span", { id: "thread-status" }, badge(thread.status));
  main.replaceChildren(
    h("h1", {}, "Thread ", h("code", {}, threadId.slice(0, 8)), " ", statusBadge),
    h("p", { class: "hint" }, Object.entries(thread.metadata || {}).map(([k, v]) => h("code", { style: "margin-right:10px" }, `${k}=${JSON.stringify(v)}`))),
    h("section", { "aria-labelledby": "live-h" },
      h("h2", { id: "live-h" }, "Live run ", conn), runLine, gate, failures,
      h("div", { class: "grid2" }, graphBox,
        h("div", { class: "scroll", style: "max-height:520px;overflow:auto" },
          h("table", { "aria-label": "Events" }, h("thead", {}, h("tr", {}, ["#", "Time", "Event", "Node", "Details"].map((t) => h("th", {}, t)))), tbody)))),
    h("h2", {}, "Runs"), runsBox,
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
      stateBox.replaceChildren(tree(s.values ?? {}));
    } catch (error) { stateBox.replaceChildren(errorBox(error)); }
  };
  const workflowId = thread.metadata?.graph_id || runs[runs.length - 1]?.assistant_id || runs[0]?.assistant_id;
  showRuns(runs);
  refresh();
  historyPage(historyBox, tid, workflowId);

  let graph = null;
  const pending = [];
  const loadGraph = async (id, version) => {
    const g = await api(`/workflows/${encodeURIComponent(id)}/graph${query({ format: "json", version })}`);
    graph = renderGraph(graphBox, g, { title: `Live graph of ${id}` });
    pending.splice(0).forEach(applyToGraph);
  };
  if (workflowId) loadGraph(workflowId).catch((e) => graphBox.replaceChildren(errorBox(e)));

  const applyToGraph = (p) => {
    if (!graph) { pending.push(p); return; }
    const d = p.data || {};
    const node = d.subworkflow_path?.length ? d.subworkflow_path[0] : p.node;
    if (d.subworkflow_path?.length) {
      if (p.type === "node.started") graph.set(node, "running", { note: p.node });
      return;
    }
    switch (p.type) {
      case "node.started": graph.set(node, "running"); break;
      case "node.finished":
        if (d.map) graph.set(node, "running", { duration_ms: d.duration_ms });
        else if (graph.state(node) !== "waiting") graph.set(node, "finished", { duration_ms: d.duration_ms });
        break;
      case "node.failed": graph.set(node, d.will_retry ? "retrying" : "failed", { duration_ms: d.duration_ms, note: d.error?.code }); break;
      case "map.progress": graph.set(node, d.done >= d.total ? "finished" : "running", { done: d.done, total: d.total }); break;
      case "node.progress": graph.set(node, "running", { note: d.message || `${Math.round((d.fraction || 0) * 100)} %` }); break;
      case "approval.requested": graph.set(node, "waiting"); break;
      case "approval.decided": graph.set(node, "finished", { note: d.decision }); break;
      default: break;
    }
  };

  const onEvent = (event) => {
    let p;
    try { p = JSON.parse(event.data); } catch { return; }
    if (event.type === "run_done") {
      refresh();
      historyPage(historyBox, tid, workflowId);
      return;
    }
    if (event.type !== "progress") return;
    tbody.append(h("tr", { "data-event-id": event.id ?? "", "data-type": p.type },
      h("td", {}, String(event.id ?? "").split(":").pop()), h("td", {}, new Date(p.at).toLocaleTimeString()),
      h("td", {}, p.type), h("td", {}, p.node ?? ""), h("td", {}, eventDetail(p))));
    if (p.type === "run.started") {
      runLine.replaceChildren(`Run ${p.run_id.slice(0, 8)} of ${p.workflow_id} v${p.workflow_version}: `, badge("running"));
      if (!graph && !workflowId) loadGraph(p.workflow_id, p.workflow_version).catch((e) => graphBox.replaceChildren(errorBox(e)));
    }
    if (p.type === "run.finished") runLine.replaceChildren(`Run ${p.run_id.slice(0, 8)}: `, badge(p.data.status));
    if (p.type === "node.failed") failures.append(h("li", {}, `${p.node}: ${p.data.error?.code} — ${p.data.error?.message}${p.data.will_retry ? " (will retry)" : ""}`));
    if (p.type === "approval.requested") {
      gate.replaceChildren(h("div", { class: "card decided" }, `‖ Waiting for approval at ${p.node}: ${p.data.prompt} `,
        h("a", { href: `#/approvals/${p.data.id}`, id: "open-approval" }, "Open in the inbox")));
    }
    if (p.type === "approval.decided") {
      gate.replaceChildren(h("div", { class: "card" }, `✓ ${p.node} decided: ${p.data.decision}${p.data.by ? ` by ${p.data.by}` : ""}`));
    }
    applyToGraph(p);
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
