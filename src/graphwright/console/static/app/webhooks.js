// A thread's webhook deliveries: for each recent run started with a `webhook`, its
// deliveries (GET /threads/{id}/runs/{run_id}/webhooks) with status, attempts and the
// last error. Deliveries go on after the run ends (retries), so while one is pending
// the panel looks again every few seconds.
import { api } from "./api.js";
import { h, when, errorBox } from "./dom.js";

const RUNS = 5; // most recent runs with a webhook shown
const EVERY_MS = 3000;
const MARK = { delivered: "✓", failed: "✗", pending: "…" };

// An attempt's error says the status itself ("HTTP 500: ..."); a success only has the status.
const answer = (a) => a.error || (a.status_code ? `HTTP ${a.status_code}` : "");

// The delivery's last error, or (once delivered) its last failed attempt's.
function lastError(d) {
  if (d.last_error) return d.last_error;
  const failed = (d.history || []).filter((a) => a.outcome === "failed").pop();
  return failed ? `attempt ${failed.attempt}: ${answer(failed) || "failed"}` : "";
}

function attempts(d) {
  const list = d.history || [];
  if (!list.length) return `${d.attempts}/${d.max_attempts}`;
  return h("details", {}, h("summary", {}, `${d.attempts}/${d.max_attempts}`),
    h("ol", { class: "attempts" }, list.map((a) => h("li", { "data-outcome": a.outcome },
      `${a.outcome === "delivered" ? "✓" : a.outcome === "failed" ? "✗" : "…"} ${when(a.started_at)} ${a.outcome}${answer(a) ? ` (${answer(a)})` : ""}`))));
}

function deliveryRow(d) {
  const last = d.history?.[d.history.length - 1];
  return h("tr", { "data-delivery": d.delivery_id, "data-run": d.run_id, "data-status": d.status },
    h("td", {}, h("code", {}, d.run_id.slice(0, 8)), h("div", { class: "hint" }, `run ${d.run_status}`)),
    h("td", {}, h("code", {}, d.url)),
    h("td", { "data-col": "status" }, h("span", { class: `badge st-${d.status}` }, `${MARK[d.status] || ""} ${d.status}`)),
    h("td", { "data-col": "attempts" }, attempts(d)),
    h("td", { "data-col": "error" }, lastError(d)),
    h("td", {}, d.status === "delivered" ? `delivered ${when(d.delivered_at)}`
      : d.status === "pending" && d.next_attempt_at ? `next attempt ${when(d.next_attempt_at)}`
        : last?.finished_at ? `last attempt ${when(last.finished_at)}` : ""));
}

export class WebhookPanel {
  // `box`: where the section goes (hidden while no run of the thread had a webhook).
  constructor(box, tid, signal) {
    Object.assign(this, { box, tid, signal });
    this.runs = [];
    this.timer = null;
    signal.addEventListener("abort", () => clearTimeout(this.timer));
  }

  // The thread's runs (GET /threads/{id}/runs); looks up those started with a webhook.
  async show(runs) {
    this.runs = runs.filter((r) => r.kwargs?.webhook).slice(0, RUNS);
    clearTimeout(this.timer);
    if (!this.runs.length) { this.box.replaceChildren(); return; }
    let deliveries;
    try {
      const lists = await Promise.all(this.runs.map((r) =>
        api(`/threads/${this.tid}/runs/${encodeURIComponent(r.run_id)}/webhooks`, { signal: this.signal })));
      deliveries = lists.flat();
    } catch (error) {
      if (!this.signal.aborted) this.box.replaceChildren(h("h2", {}, "Webhooks"), errorBox(error));
      return;
    }
    const waiting = this.runs.filter((r) => !deliveries.some((d) => d.run_id === r.run_id));
    this.box.replaceChildren(h("div", {},
      h("h2", { id: "webhooks-h" }, "Webhooks"),
      deliveries.length ? h("div", { class: "scroll" }, h("table", { id: "webhooks", "aria-labelledby": "webhooks-h" },
        h("thead", {}, h("tr", {}, ["Run", "URL", "Status", "Attempts", "Last error", "When"].map((t) => h("th", {}, t)))),
        h("tbody", {}, deliveries.map(deliveryRow)))) : null,
      waiting.length ? h("p", { class: "muted", id: "webhooks-waiting" },
        `${waiting.map((r) => r.run_id.slice(0, 8)).join(", ")}: the webhook is sent when the run ends (to `,
        h("code", {}, waiting[0].kwargs.webhook), ").") : null,
      deliveries.some((d) => d.status === "failed") ? h("p", { class: "hint" }, "A failed delivery can be sent again with ",
        h("code", {}, "POST /webhooks/deliveries/{delivery_id}/retry"), " (operator).") : null));
    if (deliveries.some((d) => d.status === "pending") || waiting.some((r) => !["pending", "running"].includes(r.status))) {
      this.timer = setTimeout(() => { if (!this.signal.aborted) this.refresh(); }, EVERY_MS);
    }
  }

  async refresh() {
    try {
      await this.show(await api(`/threads/${this.tid}/runs?limit=50`, { signal: this.signal }));
    } catch (error) {
      if (!this.signal.aborted) this.box.replaceChildren(h("h2", {}, "Webhooks"), errorBox(error));
    }
  }
}

