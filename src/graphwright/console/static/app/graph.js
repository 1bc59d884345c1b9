// A workflow graph as SVG: longest-path layering of render_json's nodes and edges
// (back edges of loops ignored for layering), top to bottom, with node states that
// a live view can update. States are shown by text, icon and border shape, not colour alone.

const NS = "http://www.w3.org/2000/svg";
const W = 176, H = 66, GAP_X = 28, GAP_Y = 62, PAD = 20;

export const STATES = {
  pending: "· pending",
  running: "▶ running",
  finished: "✓ finished",
  failed: "✗ failed",
  retrying: "↻ retrying",
  waiting: "‖ waiting for approval",
  limited: "◷ waiting for a rate limit",
};

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) el.append(typeof c === "string" ? document.createTextNode(c) : c);
  return el;
}

function short(text, n) {
  const s = String(text ?? "");
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function layout(graph) {
  const ids = graph.nodes.map((n) => n.id);
  const out = new Map(ids.map((id) => [id, []]));
  for (const e of graph.edges) if (out.has(e.source) && out.has(e.target)) out.get(e.source).push(e.target);
  // Back edges: found by DFS from START (then any unvisited node), so loops still layer.
  const back = new Set();
  const mark = new Map();
  const visit = (id) => {
    mark.set(id, 1);
    for (const t of out.get(id)) {
      if (mark.get(t) === 1) back.add(`${id}\u0000${t}`);
      else if (!mark.has(t)) visit(t);
    }
    mark.set(id, 2);
  };
  if (out.has("START")) visit("START");
  for (const id of ids) if (!mark.has(id)) visit(id);
  // Longest path from the sources over forward edges (topological order).
  const indeg = new Map(ids.map((id) => [id, 0]));
  for (const [s, ts] of out) for (const t of ts) if (!back.has(`${s}\u0000${t}`)) indeg.set(t, indeg.get(t) + 1);
  const layer = new Map(ids.map((id) => [id, 0]));
  const queue = ids.filter((id) => indeg.get(id) === 0);
  while (queue.length) {
    const id = queue.shift();
    for (const t of out.get(id)) {
      if (back.has(`${id}\u0000${t}`)) continue;
      layer.set(t, Math.max(layer.get(t), layer.get(id) + 1));
      indeg.set(t, indeg.get(t) - 1);
      if (indeg.get(t) === 0) queue.push(t);
    }
  }
  // END goes last.
  if (layer.has("END")) layer.set("END", Math.max(...layer.values(), 0) + (ids.length > 1 ? 0 : 0));
  const layers = [];
  for (const id of ids) (layers[layer.get(id)] ||= []).push(id);
  const compact = layers.filter(Boolean);
  // One barycentre pass keeps parents above children.
  const pos = new Map();
  compact.forEach((row, r) => {
    if (r > 0) {
      const parents = (id) => graph.edges.filter((e) => e.target === id && pos.has(e.source)).map((e) => pos.get(e.source).i);
      row.sort((a, b) => avg(parents(a)) - avg(parents(b)));
    }
    row.forEach((id, i) => pos.set(id, { r, i }));
  });
  const width = Math.max(...compact.map((row) => row.length)) * (W + GAP_X) - GAP_X + 2 * PAD;
  const place = new Map();
  compact.forEach((row, r) => {
    const rowWidth = row.length * (W + GAP_X) - GAP_X;
    const x0 = (width - rowWidth) / 2;
    row.forEach((id, i) => place.set(id, { x: x0 + i * (W + GAP_X), y: PAD + r * (H + GAP_Y) }));
  });
  return { place, back, width, height: compact.length * (H + GAP_Y) - GAP_Y + 2 * PAD };
}

function avg(xs) { return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0; }

// The subworkflows a document's nodes run: node id -> {workflow, version, map}. Published
// documents pin each version, so this names exactly the graph that runs.
export function subworkflowRefs(document) {
  const out = new Map();
  for (const [id, node] of Object.entries(document?.nodes || {})) {
    const inner = node.kind === "map" ? node.node : node;
    if (inner?.kind === "subworkflow") out.set(id, { workflow: inner.workflow, version: inner.version ?? null, map: node.kind === "map" });
  }
  return out;
}

function duration(ms) {
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

// Render `graph` (render_json's nodes and edges) as SVG into `container`.
// `subworkflows` (from subworkflowRefs) makes those nodes link to their workflow, or,
// with `onToggle`, buttons that expand the inner graph in place (the caller draws it).
export function renderGraph(container, graph, { title = "Workflow graph", subworkflows = new Map(), onToggle = null } = {}) {
  const { place, back, width, height } = layout(graph);
  const root = svg("svg", { viewBox: `0 0 ${width + 60} ${height}`, width: width + 60, height, role: "group", "aria-label": title });
  root.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
    svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#7d8794" }))));
  const labelled = new Map(); // source -> labels placed so far (stacked, not on top of each other)
  for (const e of graph.edges) {
    const a = place.get(e.source), b = place.get(e.target);
    if (!a || !b) continue;
    let d, lx, ly;
    if (back.has(`${e.source}\u0000${e.target}`) || b.y <= a.y) {
      const x = Math.max(a.x, b.x) + W;
      d = `M${a.x + W},${a.y + H / 2} C${x + 50},${a.y + H / 2} ${x + 50},${b.y + H / 2} ${b.x + W},${b.y + H / 2}`;
      lx = x + 8; ly = (a.y + b.y) / 2 + H / 2;
    } else {
      const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
      d = `M${x1},${y1} C${x1},${y1 + GAP_Y / 2} ${x2},${y2 - GAP_Y / 2} ${x2},${y2}`;
      lx = (x1 + x2) / 2 + 4; ly = (y1 + y2) / 2;
    }
    const path = svg("path", { d, class: `gedge ${e.kind}`, "marker-end": "url(#arrow)", "data-edge": `${e.source}->${e.target}` });
    root.append(path);
    if (e.label) {
      const k = labelled.get(e.source) || 0;
      labelled.set(e.source, k + 1);
      ly += (k - 1) * 12;
      root.append(svg("text", { x: lx, y: ly, class: "elabel" }, svg("title", {}, e.label), short(e.label, 34)));
    }
  }
  const nodes = new Map();
  for (const n of graph.nodes) {
    const p = place.get(n.id);
    const detail = (n.detail || [])[0] || n.kind;
    const stateText = svg("text", { x: 8, y: 46, class: "state" }, n.kind === "start" || n.kind === "end" ? "" : STATES.pending);
    const extra = svg("text", { x: 8, y: 60, class: "kind" }, "");
    const g = svg("g", {
      class: `gnode k-${n.kind}`, transform: `translate(${p.x},${p.y})`, "data-node": n.id, "data-state": "pending",
      tabindex: 0, role: "img", "aria-label": `${n.label} (${n.kind}): pending`,
    },
      svg("title", {}, [n.label, ...(n.detail || [])].join("\n")),
      svg("rect", { width: W, height: H, rx: n.kind === "start" || n.kind === "end" ? 26 : 6 }),
      svg("text", { x: 8, y: 17 }, short(n.label, 24)),
      svg("text", { x: 8, y: 31, class: "kind" }, short(detail, 30)),
      stateText, extra);
    let node = g;
    const sub = subworkflows.get(n.id);
    if (sub && onToggle) {
      const toggle = () => onToggle(n.id);
      g.classList.add("expandable");
      g.querySelector("text").textContent = short(n.label, 15);
      g.setAttribute("role", "button");
      g.setAttribute("aria-expanded", "false");
      g.append(svg("text", { x: W - 8, y: 17, class: "toggle", "text-anchor": "end" }, "▸ open"));
      g.addEventListener("click", toggle);
      g.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
    } else if (sub) {
      const version = sub.version ? `?version=${sub.version}` : "";
      node = svg("a", { href: `#/workflows/${encodeURIComponent(sub.workflow)}${version}` }, g);
      g.removeAttribute("tabindex");
    }
    root.append(node);
    nodes.set(n.id, { g, n, stateText, extra, ms: 0, bar: null, wrote: new Set(), title: g.querySelector("title") });
  }
  container.replaceChildren(root);

  return {
    nodes,
    // Set a node's state; `info` may hold {duration_ms, done, total, note, changed, label}
    // (`label` replaces the state's words, e.g. "◷ waiting for crm_api").
    set(id, state, info = {}) {
      const node = nodes.get(id);
      if (!node || node.n.kind === "start" || node.n.kind === "end") return;
      node.g.setAttribute("data-state", state);
      if (info.duration_ms) node.ms += info.duration_ms;
      for (const field of info.changed || []) node.wrote.add(field);
      let label = info.label || STATES[state] || state;
      if (info.note) label = `${label} · ${info.note}`;
      node.stateText.textContent = short(label, 30);
      const wrote = node.wrote.size ? `wrote ${[...node.wrote].join(", ")}` : "";
      node.title.textContent = [node.n.label, ...(node.n.detail || []), label, node.ms ? duration(node.ms) : "", wrote].filter(Boolean).join("\n");
      const parts = [];
      if (node.ms) parts.push(duration(node.ms));
      if (info.total) {
        parts.push(`${info.done}/${info.total} items`);
        if (!node.bar) {
          node.bar = svg("rect", { x: W - 70, y: 52, width: 0, height: 6, class: "bar" });
          node.g.append(svg("rect", { x: W - 70, y: 52, width: 62, height: 6, class: "bar-bg" }), node.bar);
        }
        node.bar.setAttribute("width", String(Math.round((62 * info.done) / info.total)));
      }
      if (parts.length || info.duration_ms || info.total) node.extra.textContent = short(parts.join(" · "), 30);
      node.g.setAttribute("aria-label", `${node.n.label} (${node.n.kind}): ${label}${parts.length ? ", " + parts.join(", ") : ""}${wrote ? ", " + wrote : ""}`);
    },
    state(id) { return nodes.get(id)?.g.getAttribute("data-state"); },
    // Mark a subworkflow node open or closed (its toggle text and aria-expanded).
    expanded(id, open) {
      const node = nodes.get(id);
      if (!node) return;
      node.g.setAttribute("aria-expanded", String(open));
      const t = node.g.querySelector(".toggle");
      if (t) t.textContent = open ? "▾ close" : "▸ open";
    },
  };
}
