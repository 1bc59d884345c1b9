// HTTP access to the graphwright API: the signed-in key (sessionStorage, never in a URL),
// JSON requests with problem+json errors, and SSE read with fetch() so the key can be
// sent as a header and the stream resumed with Last-Event-ID.

const KEY = "graphwright.apiKey";

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || `http.${status}`;
  }
}

function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  const key = session.key;
  if (key) out["X-Api-Key"] = key;
  return out;
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: headers(), signal, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { title: text }; }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Follow an SSE stream until `signal` aborts. Each event is handed to onEvent once:
// after a drop the stream is reopened with the last id seen (the server replays exactly
// what was missed) and any id already seen is skipped. onStatus gets "connecting",
// "live", "reconnecting" or "closed".
export async function follow(path, { onEvent, onStatus = () => {}, signal }) {
  let lastId = null;
  const seen = new Set();
  let failures = 0;
  onStatus("connecting");
  while (!signal.aborted) {
    try {
      const extra = { Accept: "text/event-stream" };
      if (lastId !== null) extra["Last-Event-ID"] = lastId;
      const res = await fetch(path, { headers: headers(extra), signal, credentials: "omit", cache: "no-store" });
      if (!res.ok) {
        let problem = null;
        try { problem = await res.json(); } catch { /* not JSON */ }
        const error = new ApiError(res.status, problem);
        if (res.status < 500 && res.status !== 429) { onStatus("closed", error); return; }
        throw error;
      }
      onStatus("live");
      failures = 0;
      await readEvents(res.body, (event) => {
        if (event.id !== null) {
          if (seen.has(event.id)) return;
          seen.add(event.id);
          lastId = event.id;
        }
        onEvent(event);
      });
    } catch (error) {
      if (signal.aborted) return;
      failures += 1;
    }
    if (signal.aborted) return;
    onStatus("reconnecting");
    await sleep(Math.min(200 * 2 ** Math.min(failures, 5), 5000));
  }
}

async function readEvents(body, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data = [];
  let type = "message";
  let id = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // Keep a trailing "\r" until we know whether "\n" follows it.
    let cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
    const text = buffer.slice(0, cut).replace(/\r\n?/g, "\n");
    buffer = buffer.slice(cut);
    const lines = text.split("\n");
    buffer = lines.pop() + buffer;
    for (const line of lines) {
      if (line === "") {
        if (data.length || id !== null) dispatch({ id, type, data: data.join("\n") });
        data = []; type = "message"; id = null;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? "" : line.slice(colon + 1);
      if (val.startsWith(" ")) val = val.slice(1);
      if (field === "data") data.push(val);
      else if (field === "event") type = val;
      else if (field === "id") id = val;
    }
  }
}
