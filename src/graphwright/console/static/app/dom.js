// Building DOM without innerHTML (every value from the API is text, never markup).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) { el.replaceChildren(); return el; }

export function badge(status) {
  const s = String(status ?? "unknown");
  return h("span", { class: `badge st-${s}` }, s);
}

export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.textContent = ""; }, 5000);
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString();
}

export function age(iso) {
  if (!iso) return "";
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function errorBox(error) {
  const p = error.problem || {};
  return h("div", { class: "card", role: "alert" },
    h("p", { class: "error" }, `${p.title || "Request failed"} (${error.code || error.status || "error"})`),
    p.detail ? h("p", {}, p.detail) : null);
}

export function tree(value) {
  if (value === null || typeof value !== "object") {
    return h("code", {}, JSON.stringify(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  if (!entries.length) return h("code", {}, Array.isArray(value) ? "[]" : "{}");
  return h("ul", {}, entries.map(([k, v]) =>
    h("li", {}, h("span", { class: "k" }, `${k}: `),
      v !== null && typeof v === "object" && Object.keys(v).length ? h("details", { open: entries.length < 12 },
        h("summary", {}, Array.isArray(v) ? `[${v.length}]` : `{${Object.keys(v).length}}`), tree(v)) : tree(v))));
}
