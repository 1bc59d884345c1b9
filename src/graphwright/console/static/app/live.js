// The live run view of a thread page. The workflow graph (laid out from
// GET /workflows/{id}/graph) shows each node's state as `progress` events arrive.
// Subworkflow nodes open their inner workflow's graph in place: events from inside a
// subworkflow carry data.subworkflow_path (the document nodes leading to it, a map's
// item worker as "<map>__item") and light up the inner nodes, at any depth. Crew nodes
// get a panel with the crew's steps, tool calls and tokens as they happen.
import { api, query } from "./api.js";
import { h, errorBox, badge } from "./dom.js";
import { renderGraph, subworkflowRefs } from "./graph.js";

const MAX_LOG = 200; // crew log lines kept per crew node

// The document path of an event: ["respond"], ["classify"] for a map's items, [] at the top.
export function eventPath(p) {
  return (p.data?.subworkflow_path || []).map((part) => (part.startsWith("__") ? part : part.split("__")[0]));
}

// Where an event shows: the node at its own level, and at each enclosing level the
// subworkflow node it runs in ("activity": that node is running, busy with `inner`).
export function routes(p) {
  const path = eventPath(p);
  const out = path.map((node, i) => ({ key: path.slice(0, i).join("/"), node, activity: true, inner: [...path.slice(i + 1), p.node].join(" › ") }));
  out.push({ key: path.join("/"), node: p.node, activity: false });
  return out;
}

const label = (key, node) => [...(key ? key.split("/") : []), node].join(" › ");

// "respond › contain" for a node inside subworkflow respond; the node alone at the top.
export function nodeLabel(p) {
  return p.node ? label(eventPath(p).join("/"), p.node) : "";
}

// One crew node's activity, summed over its crews (a map runs one crew per item).
class CrewPanel {
  constructor(key, node) {
    this.perTask = new Map(); // task_id -> {tokens, done, total, final}
    this.tools = 0;
    this.figures = h("p", { class: "crew-figures", "data-figures": "" });
    this.log = h("ol", { class: "crew-log", "aria-label": `Crew log of ${label(key, node)}` });
    this.head = h("p", { class: "hint" });
    this.status = h("span", {}, badge("running"));
    this.element = h("section", { class: "card crew", "data-crew": label(key, node), "aria-label": `Crew at ${label(key, node)}` },
      h("h3", {}, `Crew at ${label(key, node)} `, this.status), this.head, this.figures, this.log);
  }

  task(d) {
    const id = d.task_id || "";
    if (!this.perTask.has(id)) this.perTask.set(id, { tokens: 0, done: 0, total: 0, final: null });
    return this.perTask.get(id);
  }

  sum(field) { return [...this.perTask.values()].reduce((a, t) => a + (t[field] || 0), 0); }

  note() {
    const total = this.sum("total");
    const bits = [];
    if (total) bits.push(`${this.sum("done")}/${total}`);
    bits.push(`${this.sum("tokens").toLocaleString()} tok`);
    return bits.join(" · ");
  }

  line(kind, ...text) {
    this.log.append(h("li", { "data-kind": kind }, ...text));
    while (this.log.children.length > MAX_LOG) this.log.firstChild.remove();
    this.log.scrollTop = this.log.scrollHeight;
  }

  apply(p) {
    const d = p.data || {};
    const t = this.task(d);
    switch (p.type) {
      case "crew.started":
        t.total = d.tasks_total || 0;
        this.head.textContent = `${d.crew} · ${d.process} · agents: ${(d.agents || []).join(", ")}`;
        this.line("started", `Crew ${d.crew} started: ${t.total} task${t.total === 1 ? "" : "s"}`);
        break;
      case "crew.agent_step":
        if (d.tokens !== undefined) t.tokens = Math.max(t.tokens, d.tokens);
        if (d.kind === "tool_call") this.line("step", h("strong", {}, d.agent || "agent"), ` → calls `, h("code", {}, d.tool), ` with `, h("code", {}, d.tool_input || ""), d.thought ? h("div", { class: "hint" }, d.thought) : null);
        else this.line("step", h("strong", {}, d.agent || "agent"), " answers: ", d.output || "");
        break;
      case "crew.tool_used":
        this.tools += 1;
        this.line(d.error ? "tool-error" : "tool", "Tool ", h("code", {}, d.tool), ` (${d.agent || "agent"}) `,
          d.error ? h("span", { class: "error" }, `✗ ${d.error}`) : h("span", {}, `→ ${d.output ?? ""}`), d.from_cache ? " (cached)" : "");
        break;
      case "crew.task_completed":
        t.done = d.tasks_done || t.done + 1;
        t.total = d.tasks_total || t.total;
        if (d.tokens !== undefined) t.tokens = Math.max(t.tokens, d.tokens);
        this.line("task", `✓ Task ${d.tasks_done}/${d.tasks_total}${d.task ? ` "${d.task}"` : ""} by ${d.agent || "agent"}`);
        break;
      case "crew.usage":
        t.tokens = d.tokens ?? t.tokens;
        t.final = d;
        this.line("usage", `Σ ${d.status}: ${d.tokens} tokens (${d.prompt_tokens} prompt + ${d.completion_tokens} completion), ${d.successful_requests} requests, ${Math.round(d.duration_ms)} ms`);
        break;
      default: return;
    }
    this.render();
  }

  render() {
    const finals = [...this.perTask.values()].map((t) => t.final).filter(Boolean);
    const running = finals.length < this.perTask.size;
    const failed = finals.find((f) => f.status !== "completed");
    this.status.replaceChildren(badge(running ? "running" : failed ? failed.status : "completed"));
    const total = this.sum("total");
    this.figures.replaceChildren(
      h("span", { "data-figure": "tasks" }, `Tasks ${this.sum("done")}/${total}`), " · ",
      h("span", { "data-figure": "tokens" }, `Tokens ${this.sum("tokens").toLocaleString()}${running ? " so far" : ""}`), " · ",
      h("span", { "data-figure": "tools" }, `Tool calls ${this.tools}`),
      finals.length ? h("span", {}, ` · prompt ${finals.reduce((a, f) => a + f.prompt_tokens, 0)}, completion ${finals.reduce((a, f) => a + f.completion_tokens, 0)}, requests ${finals.reduce((a, f) => a + f.successful_requests, 0)}`) : null);
  }
}

export class LiveView {
  // `graphBox`: where the top graph goes; `innerBox`: opened subworkflows; `crewBox`: crew panels.
  constructor({ graphBox, innerBox, crewBox }) {
    Object.assign(this, { graphBox, innerBox, crewBox });
    this.events = [];
    this.levels = new Map(); // key ("" top, "respond", "respond/x") -> {graph, subs, children}
    this.crews = new Map(); // "key/node" -> CrewPanel
    this.cache = new Map();
    this.workflow = null;
  }

  load(id, version) {
    const k = `${id}@${version ?? ""}`;
    if (!this.cache.has(k)) {
      const v = version ?? undefined;
      const loading = Promise.all([
        api(`/workflows/${encodeURIComponent(id)}${query({ version: v })}`),
        api(`/workflows/${encodeURIComponent(id)}/graph${query({ format: "json", version: v })}`),
      ]).then(([wf, graph]) => ({ id, version: wf.version, graph, subs: subworkflowRefs(wf.document) }));
      loading.catch(() => this.cache.delete(k));
      this.cache.set(k, loading);
    }
    return this.cache.get(k);
  }

  // Show workflow `id` (at `version`, else the latest); every event so far is replayed.
  // Calls take effect in order (a run's version arrives after the thread's workflow).
  setWorkflow(id, version = null) {
    const next = (this.setting || Promise.resolve()).catch(() => {}).then(() => this.showWorkflow(id, version));
    this.setting = next;
    return next;
  }

  async showWorkflow(id, version) {
    if (this.workflow && this.workflow.id === id && (version === null || this.workflow.version === version)) return;
    const level = await this.load(id, version);
    if (this.workflow && this.workflow.id === id && this.workflow.version === level.version) return;
    this.workflow = { id, version: level.version };
    this.levels.clear();
    this.innerBox.replaceChildren();
    const graph = renderGraph(this.graphBox, level.graph, { title: `Live graph of ${id}`, subworkflows: level.subs, onToggle: (node) => this.toggle("", node) });
    this.levels.set("", { graph, subs: level.subs, children: this.innerBox });
    this.replay("");
  }

  async toggle(key, node) {
    const parent = this.levels.get(key);
    const sub = parent?.subs.get(node);
    if (!sub) return;
    const child = key ? `${key}/${node}` : node;
    const open = parent.children.querySelector(`:scope > [data-subworkflow="${CSS.escape(child)}"]`);
    if (open) {
      open.remove();
      for (const k of [...this.levels.keys()]) if (k === child || k.startsWith(`${child}/`)) this.levels.delete(k);
      parent.graph.expanded(node, false);
      return;
    }
    const graphBox = h("div", { class: "graph" }, h("p", { class: "muted" }, "Loading…"));
    const children = h("div", { class: "inner-children" });
    const title = `${label(key, node)}: ${sub.workflow}${sub.version ? ` v${sub.version}` : ""}${sub.map ? " (all items)" : ""}`;
    const panel = h("section", { class: "card inner", "data-subworkflow": child, "aria-label": `Subworkflow ${title}` },
      h("h3", {}, title, " ", h("a", { href: `#/workflows/${encodeURIComponent(sub.workflow)}${sub.version ? `?version=${sub.version}` : ""}` }, "document")),
      graphBox, children);
    parent.children.append(panel);
    parent.graph.expanded(node, true);
    try {
      const level = await this.load(sub.workflow, sub.version);
      if (!panel.isConnected) return;
      const graph = renderGraph(graphBox, level.graph, { title: `Live graph of ${title}`, subworkflows: level.subs, onToggle: (n) => this.toggle(child, n) });
      this.levels.set(child, { graph, subs: level.subs, children });
      this.replay(child);
    } catch (error) { graphBox.replaceChildren(errorBox(error)); }
  }

  replay(key) {
    for (const p of this.events) for (const r of routes(p)) if (r.key === key) this.show(r, p);
  }

  // A progress event of the thread's stream (each once, in order).
  push(p) {
    this.events.push(p);
    if (p.type.startsWith("crew.")) this.crew(p);
    for (const r of routes(p)) this.show(r, p);
  }

  crew(p) {
    const path = eventPath(p).join("/");
    const k = `${path}\u0000${p.node}`;
    if (!this.crews.has(k)) {
      const panel = new CrewPanel(path, p.node);
      this.crews.set(k, panel);
      this.crewBox.append(panel.element);
    }
    this.crews.get(k).apply(p);
  }

  show(r, p) {
    const level = this.levels.get(r.key);
    if (!level) return;
    const graph = level.graph;
    const d = p.data || {};
    const node = r.node;
    if (r.activity) {
      // A gate inside the subworkflow pauses the run there: the subworkflow node waits too.
      if (p.type === "approval.requested") graph.set(node, "waiting", { note: r.inner });
      else if (p.type === "approval.decided") graph.set(node, "running", { note: r.inner });
      else if (p.type === "node.started" && graph.state(node) !== "waiting") graph.set(node, "running", { note: r.inner });
      return;
    }
    const crewNote = this.crews.get(`${r.key}\u0000${node}`)?.note();
    switch (p.type) {
      case "node.started": graph.set(node, "running"); break;
      case "node.finished":
        if (d.map) graph.set(node, "running", { duration_ms: d.duration_ms, changed: d.changed });
        else if (graph.state(node) !== "waiting") graph.set(node, "finished", { duration_ms: d.duration_ms, changed: d.changed, note: crewNote });
        break;
      case "node.failed": graph.set(node, d.will_retry ? "retrying" : "failed", { duration_ms: d.duration_ms, note: d.error?.code }); break;
      case "map.progress": graph.set(node, d.done >= d.total ? "finished" : "running", { done: d.done, total: d.total }); break;
      case "node.progress": graph.set(node, "running", { note: d.message || `${Math.round((d.fraction || 0) * 100)} %` }); break;
      case "node.rate_limited":
        graph.set(node, "limited", { label: `◷ waiting for ${d.limiter}`, note: d.reason === "storage_unavailable" ? "limit storage unreachable" : null });
        break;
      case "node.rate_limit_passed": if (graph.state(node) === "limited") graph.set(node, "running"); break;
      case "approval.requested": graph.set(node, "waiting"); break;
      case "approval.decided": graph.set(node, "finished", { note: d.decision }); break;
      case "crew.started": case "crew.agent_step": case "crew.tool_used": case "crew.task_completed": case "crew.usage":
        if (graph.state(node) !== "finished") graph.set(node, "running", { note: crewNote });
        break;
      default: break;
    }
  }
}
