// The console shell: sign-in (an API key kept in sessionStorage, sent as X-Api-Key),
// navigation, and a hash router (no server-side routes, no key in any URL).
import { api, ApiError, session } from "./api.js";
import { h, errorBox } from "./dom.js";
import { workflowsPage, workflowPage } from "./workflows.js";
import { threadsPage, threadPage } from "./threads.js";
import { inboxPage, approvalPage } from "./approvals.js";
import { opsPage } from "./ops.js";
import { schedulesPage, scheduleRunPage } from "./schedules.js";

const main = document.getElementById("main");
let me = null;
let current = null;

async function whoami() {
  try {
    me = await api("/auth/whoami");
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return false;
    if (error instanceof ApiError && error.status === 404) { me = null; return true; }
    throw error;
  }
}

function signInPage(message) {
  const key = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true });
  const form = h("form", { class: "card", id: "signin", style: "max-width:520px" },
    h("h1", {}, "Sign in"),
    h("p", {}, "This server needs an API key. It stays in this browser tab only and is sent as the ", h("code", {}, "X-Api-Key"), " header."),
    message ? h("p", { class: "error", role: "alert" }, message) : null,
    h("label", { for: "api-key" }, "API key"), key,
    h("p", {}, h("button", { type: "submit" }, "Sign in")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    session.set(key.value.trim());
    if (await whoami()) { showWho(); route(); } else { session.clear(); signInPage("That key is not valid here."); }
  });
  main.replaceChildren(form);
  key.focus();
}

function showWho() {
  const who = document.getElementById("who");
  who.textContent = me ? `${me.name || me.id} · tenant ${me.tenant} · ${me.roles.join(", ")}` : "";
  document.getElementById("signout").hidden = !session.key;
}

// After a page change, focus its heading so keyboard and screen-reader users start there.
function focusHeading() {
  const heading = main.querySelector("h1");
  if (!heading || main.contains(document.activeElement) && document.activeElement !== main) return;
  heading.setAttribute("tabindex", "-1");
  heading.focus({ preventScroll: true });
}

async function route({ focus = true } = {}) {
  current?.abort();
  current = new AbortController();
  const signal = current.signal;
  const raw = location.hash.replace(/^#/, "") || "/workflows";
  const [path, search] = raw.split("?");
  const params = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === parts[0]) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    if (parts[0] === "workflows" && parts[1]) await workflowPage(main, parts[1], params);
    else if (parts[0] === "threads" && parts[1]) await threadPage(main, parts[1], signal);
    else if (parts[0] === "threads") await threadsPage(main, params);
    else if (parts[0] === "approvals" && parts[1]) await approvalPage(main, parts[1], me);
    else if (parts[0] === "approvals") await inboxPage(main, params, me);
    else if (parts[0] === "ops") await opsPage(main, signal);
    else if (parts[0] === "schedules" && parts[1] && parts[2] === "runs" && parts[3]) await scheduleRunPage(main, parts[1], parts[3]);
    else if (parts[0] === "schedules") await schedulesPage(main, params, me, signal);
    else await workflowsPage(main);
    document.title = `${main.querySelector("h1")?.textContent || "console"} · graphwright`;
    if (focus) focusHeading();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) { session.clear(); signInPage("Please sign in again."); return; }
    main.replaceChildren(errorBox(error));
  }
}

document.getElementById("signout").addEventListener("click", () => {
  session.clear(); me = null; showWho(); current?.abort(); signInPage();
});
window.addEventListener("hashchange", () => route());

(async () => {
  try {
    if (await whoami()) { showWho(); await route({ focus: false }); } else signInPage();
  } catch (error) {
    main.replaceChildren(errorBox(error));
  }
})();
