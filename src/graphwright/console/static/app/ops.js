// Operations at a glance: the tenant's queue depth, running runs, failures in the last
// hour and pending approvals, in total and per workflow (GET /ops/summary, the figures
// /metrics exports), refreshed every few seconds while the page is open.
import { api } from "./api.js";
import { h, errorBox } from "./dom.js";

const EVERY_MS = 5000;
const FIGURES = [
  ["queued", "Queue depth", "Runs waiting for a worker"],
  ["running", "Running", "Runs executing now"],
  ["failed_last_hour", "Failed (last hour)", "Runs ended in error or timeout"],
  ["approvals_pending", "Pending approvals", "Gates waiting for a decision"],
];

function tiles(total) {
  return h("div", { class: "tiles", id: "ops-total" }, FIGURES.map(([key, label, hint]) =>
    h("div", { class: `card tile${key === "failed_last_hour" && total[key] ? " alert" : ""}`, "data-figure": key },
      h("div", { class: "hint" }, label),
      h("div", { class: "figure" }, String(total[key] ?? 0)),
      h("div", { class: "hint" }, hint))));
}

function table(workflows) {
  if (!workflows.length) return h("p", { class: "muted", id: "ops-empty" }, "Nothing queued, running, failed or waiting.");
  return h("div", { class: "scroll" }, h("table", { id: "ops-workflows" },
    h("thead", {}, h("tr", {}, h("th", {}, "Workflow"), FIGURES.map(([, label]) => h("th", { class: "num" }, label)))),
    h("tbody", {}, workflows.map((w) => h("tr", { "data-workflow": w.workflow_id },
      h("td", {}, h("a", { href: `#/threads?workflow=${encodeURIComponent(w.workflow_id)}` }, w.workflow_id)),
      FIGURES.map(([key]) => h("td", { class: "num", "data-figure": key }, String(w[key] ?? 0))))))));
}

export async function opsPage(main, signal) {
  const body = h("div", { id: "ops", "aria-live": "polite" });
  const stamp = h("span", { class: "hint", id: "ops-updated" });
  const auto = h("input", { type: "checkbox", id: "ops-auto", checked: true });
  const refresh = async () => {
    try {
      const summary = await api("/ops/summary", { signal });
      body.replaceChildren(tiles(summary.total), h("h2", {}, "Per workflow"), table(summary.workflows));
      stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (!signal.aborted) body.replaceChildren(errorBox(error));
    }
  };
  main.replaceChildren(
    h("h1", {}, "Operations"),
    h("div", { class: "row card" },
      h("button", { type: "button", id: "ops-refresh", class: "secondary", onclick: refresh }, "Refresh"),
      h("label", { for: "ops-auto", style: "font-weight:400" }, auto, ` refresh every ${EVERY_MS / 1000} s`),
      stamp),
    body,
    h("p", { class: "hint" }, "The same figures ", h("code", {}, "/metrics"), " exports for this tenant: ",
      h("code", {}, "graphwright_queue_depth"), ", ", h("code", {}, "graphwright_runs{status=\"running\"}"), ", ",
      h("code", {}, "graphwright_runs_failed_last_hour"), ", ", h("code", {}, "graphwright_approvals_pending"), "."));
  await refresh();
  const timer = setInterval(() => { if (auto.checked && !document.hidden) refresh(); }, EVERY_MS);
  signal.addEventListener("abort", () => clearInterval(timer));
}
