// Workflows: the list, one workflow (graph, document, versions, start-run form),
// and the validate box that shows each problem at its JSON pointer.
import { api, ApiError, query } from "./api.js";
import { h, errorBox, when, toast } from "./dom.js";
import { renderGraph, subworkflowRefs } from "./graph.js";
import { schemaForm } from "./form.js";

export const METADATA_FIELDS = ["client_id", "engagement_id", "session_id"];

export async function workflowsPage(main) {
  const list = await api("/workflows");
  main.replaceChildren(
    h("h1", {}, "Workflows"),
    list.length
      ? h("div", { class: "scroll" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", {}, "Workflow"), h("th", {}, "Title"), h("th", {}, "Latest version"), h("th", {}, "Published"))),
          h("tbody", {}, list.map((w) => h("tr", {},
            h("td", {}, h("a", { href: `#/workflows/${encodeURIComponent(w.workflow_id)}` }, w.workflow_id)),
            h("td", {}, w.title || "", w.description ? h("div", { class: "hint" }, w.description) : null),
            h("td", {}, `v${w.version}`),
            h("td", {}, when(w.created_at)))))))
      : h("p", { class: "muted" }, "No workflow is published yet. Validate and publish one below."),
    validateBox());
}

export async function workflowPage(main, id, params) {
  const version = params.get("version") || undefined;
  const q = query({ version });
  const [wf, versions, graph] = await Promise.all([
    api(`/workflows/${encodeURIComponent(id)}${q}`),
    api(`/workflows/${encodeURIComponent(id)}/versions`),
    api(`/workflows/${encodeURIComponent(id)}/graph${query({ format: "json", version })}`),
  ]);
  const graphBox = h("div", { class: "graph" });
  const picker = h("select", { id: "wf-version", onchange: (e) => { location.hash = `#/workflows/${encodeURIComponent(id)}?version=${e.target.value}`; } },
    versions.map((v) => h("option", { value: v.version, selected: v.version === wf.version }, `v${v.version} — ${when(v.created_at)}`)));
  main.replaceChildren(
    h("h1", {}, wf.title || wf.workflow_id, " ", h("span", { class: "hint" }, `${wf.workflow_id} v${wf.version}`)),
    wf.description ? h("p", {}, wf.description) : null,
    h("div", { class: "row", style: "max-width:420px" }, h("div", {}, h("label", { for: "wf-version" }, "Version"), picker)),
    h("div", { class: "grid2" },
      h("section", { "aria-labelledby": "graph-h" }, h("h2", { id: "graph-h" }, "Graph"), graphBox),
      h("section", { "aria-labelledby": "start-h" }, h("h2", { id: "start-h" }, "Start a run"), await startForm(wf))),
    h("h2", {}, "Document"),
    h("pre", { "aria-label": "Workflow document" }, JSON.stringify(wf.document, null, 2)));
  renderGraph(graphBox, graph, { title: `Graph of ${wf.workflow_id}`, subworkflows: subworkflowRefs(wf.document) });
}

// The fields of a workflow's input schema as a form (schemaForm: element, read, showError).
export async function inputForm(workflowId, { prefix = "in" } = {}) {
  const schemas = await api(`/assistants/${encodeURIComponent(workflowId)}/schemas`);
  const input = schemas.input_schema || { properties: {} };
  const required = new Set(input.required || []);
  return schemaForm(
    Object.entries(input.properties || {}).map(([name, schema]) => ({ name, schema, required: required.has(name) })),
    { prefix });
}

// Show a 422's problems under their fields. state.invalid_input points into the input
// (`/<field>`); other codes point into the body: `/input/<field>` goes to `inputs`, a
// first segment named in `others` to that error element. Returns how many were shown.
export function showProblems(error, inputs, others = {}) {
  const problems = error.problem?.errors || error.problem?.problems || [];
  const intoInput = error.code === "state.invalid_input";
  let shown = 0;
  for (const p of problems) {
    const parts = String(p.pointer || "").split("/").slice(1).map((x) => x.replace(/~1/g, "/").replace(/~0/g, "~"));
    const text = p.message || p.msg || "";
    if (intoInput) { if (inputs.showError(parts[0], text)) shown += 1; }
    else if (others[parts[0]]) { others[parts[0]].textContent = text; shown += 1; }
    else if (parts.length && inputs.showError(parts[parts[0] === "input" ? 1 : parts.length - 1], text)) shown += 1;
  }
  return shown;
}

async function startForm(wf) {
  const inputs = await inputForm(wf.workflow_id);
  const meta = schemaForm(METADATA_FIELDS.map((name) => ({ name, schema: { type: "string" }, required: false })), { prefix: "meta" });
  const status = h("div", { role: "status" });
  const form = h("form", { class: "card", id: "start-form", "aria-label": "Start a run" },
    h("fieldset", {}, h("legend", {}, "Input"), inputs.element),
    h("fieldset", {}, h("legend", {}, "Thread metadata"), meta.element),
    h("button", { type: "submit" }, "Start run"), status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const a = inputs.read(), m = meta.read();
    if (!a.ok || !m.ok) { status.replaceChildren(h("p", { class: "error" }, "Fix the fields marked above.")); return; }
    status.replaceChildren(h("p", {}, "Starting…"));
    try {
      const thread = await api("/threads", { method: "POST", body: { metadata: { ...m.values, graph_id: wf.workflow_id } } });
      await api(`/threads/${thread.thread_id}/runs`, { method: "POST", body: { assistant_id: wf.workflow_id, input: a.values } });
      location.hash = `#/threads/${thread.thread_id}`;
    } catch (error) {
      showProblems(error, inputs);
      status.replaceChildren(errorBox(error));
    }
  });
  return form;
}

// Pretty-print `value` and remember the line of every JSON pointer.
export function pretty(value) {
  const lines = [];
  const at = new Map();
  const emit = (v, indent, pointer, prefix, suffix) => {
    at.set(pointer, lines.length);
    if (v && typeof v === "object") {
      const arr = Array.isArray(v);
      const entries = arr ? v.map((x, i) => [i, x]) : Object.entries(v);
      if (!entries.length) { lines.push(`${indent}${prefix}${arr ? "[]" : "{}"}${suffix}`); return; }
      lines.push(`${indent}${prefix}${arr ? "[" : "{"}`);
      entries.forEach(([k, x], i) => emit(x, `${indent}  `,
        `${pointer}/${String(k).replace(/~/g, "~0").replace(/\//g, "~1")}`,
        arr ? "" : `${JSON.stringify(k)}: `, i < entries.length - 1 ? "," : ""));
      lines.push(`${indent}${arr ? "]" : "}"}${suffix}`);
    } else {
      lines.push(`${indent}${prefix}${JSON.stringify(v)}${suffix}`);
    }
  };
  emit(value, "", "", "", "");
  return { lines, at };
}

function lineOf(at, pointer) {
  let p = pointer || "";
  while (!at.has(p) && p) p = p.slice(0, p.lastIndexOf("/"));
  return at.get(p) ?? 0;
}

function validateBox() {
  const text = h("textarea", { id: "doc-text", class: "code", spellcheck: false, "aria-describedby": "doc-hint" });
  const file = h("input", { type: "file", id: "doc-file", accept: ".json,application/json" });
  file.addEventListener("change", async () => { if (file.files[0]) text.value = await file.files[0].text(); });
  const out = h("div", { id: "validate-result", "aria-live": "polite" });
  const run = async (publish) => {
    let doc;
    try { doc = JSON.parse(text.value); } catch (e) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, `Not JSON: ${e.message}`));
      return;
    }
    out.replaceChildren(h("p", {}, publish ? "Publishing…" : "Validating…"));
    try {
      const done = await api(publish ? "/workflows" : "/workflows/validate", { method: "POST", body: doc });
      out.replaceChildren(h("p", { class: "ok" }, publish
        ? `✓ Published ${done.workflow_id} v${done.version}${done.created ? "" : " (unchanged)"}.`
        : `✓ ${done.workflow_id} is valid.`));
      if (publish) toast(`Published ${done.workflow_id} v${done.version}`);
    } catch (error) {
      if (!(error instanceof ApiError) || !Array.isArray(error.problem.problems)) { out.replaceChildren(errorBox(error)); return; }
      out.replaceChildren(...problemView(doc, error.problem.problems));
    }
  };
  return h("section", { class: "card", "aria-labelledby": "validate-h" },
    h("h2", { id: "validate-h" }, "Validate or publish a document"),
    h("p", { id: "doc-hint", class: "hint" }, "Paste a graphwright/v1 document or choose a file. Problems are shown at their place in the document."),
    h("label", { for: "doc-text" }, "Document"), text,
    h("label", { for: "doc-file" }, "…or upload a file"), file,
    h("div", { class: "row", style: "margin-top:10px" },
      h("button", { type: "button", id: "validate-btn", onclick: () => run(false) }, "Validate"),
      h("button", { type: "button", class: "secondary", id: "publish-btn", onclick: () => run(true) }, "Publish")),
    out);
}

function problemView(doc, problems) {
  const { lines, at } = pretty(doc);
  const byLine = new Map();
  problems.forEach((p, i) => {
    const line = lineOf(at, p.pointer);
    (byLine.get(line) || byLine.set(line, []).get(line)).push({ ...p, i });
  });
  const describe = (p) => [h("strong", {}, p.code), " at ", h("code", {}, p.pointer || "/"), `: ${p.message}`,
    p.suggestion ? h("span", {}, " — did you mean ", h("code", {}, p.suggestion), "?") : null];
  return [
    h("p", { class: "error", role: "alert" }, `✗ ${problems.length} problem${problems.length === 1 ? "" : "s"}`),
    h("ol", { class: "problems" }, problems.map((p, i) => h("li", {},
      h("a", { href: `#problem-${i}`, onclick: (e) => { e.preventDefault(); document.getElementById(`problem-${i}`)?.focus(); } }, describe(p))))),
    h("ol", { class: "doclines", "aria-label": "Document with problems" }, lines.map((line, n) => h("li", { "data-line": n + 1 },
      h("pre", { class: "line" }, line),
      (byLine.get(n) || []).map((p) => h("div", { class: "problem error", id: `problem-${p.i}`, tabindex: -1, "data-pointer": p.pointer || "", "data-code": p.code },
        "⚠ ", describe(p)))))),
  ];
}
