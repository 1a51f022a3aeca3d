// The shell: hash router, header (nav, who, org switcher), sign-in guard.
import { api, onUnauthorized, session } from "./api.js";
import { can, errorText, forgetMe, h, isSuperAdmin, me, mount, toast } from "./ui.js";
import { finishBrowserSignIn } from "./pkce.js";

const routes = [];

// registerPage("/runs/:id", "dagy-run-page", {title, nav, order, permission, public, superAdmin})
// The router creates <tagName>, sets el.params ({id}) and el.query (URLSearchParams) before it is
// connected. nav: a label puts the page in the top bar (shown when the user has `permission`).
export function registerPage(pattern, tagName, opts = {}) {
  const keys = [];
  const rx = new RegExp(
    "^" + pattern.replace(/\/:([a-zA-Z_]+)/g, (_, k) => { keys.push(k); return "/([^/]+)"; }) + "/?$",
  );
  routes.push({ pattern, tagName, rx, keys, ...opts });
  if (started) renderNav();
}

// navigate("/runs/abc", {tab: "logs"}): change the hash (the router renders).
export function navigate(path, query) {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString() : "";
  location.hash = "#" + path + (q ? `?${q}` : "");
}

// href("/runs/abc") -> "#/runs/abc", for links.
export const href = (path, query) => {
  const q = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== "")).toString() : "";
  return "#" + path + (q ? `?${q}` : "");
};

export function current() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, qs] = raw.split("?");
  return { path: path || "/", query: new URLSearchParams(qs || "") };
}

// setQuery({status: "failed"}): update the current route's query without a new history entry
// when replace is true (the page is not re-rendered when only its query changed and it has onQuery).
export function setQuery(patch, replace = true) {
  const { path, query } = current();
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === null || v === "") query.delete(k); else query.set(k, String(v));
  }
  const q = query.toString();
  const target = "#" + path + (q ? `?${q}` : "");
  if (replace) history.replaceState(null, "", target); else history.pushState(null, "", target);
}

let started = false;
let renderedPath = null;

function renderNav() {
  const nav = document.getElementById("nav");
  if (!nav) return;
  if (!session.token) { nav.replaceChildren(); return; }
  const here = current().path;
  const items = routes
    .filter((r) => r.nav && (!r.permission || can(r.permission)) && (!r.superAdmin || isSuperAdmin()))
    .sort((a, b) => (a.order ?? 50) - (b.order ?? 50));
  mount(nav, items.map((r) => h("a", {
    href: "#" + r.pattern, class: here === r.pattern || here.startsWith(r.pattern + "/") ? "active" : null,
  }, r.nav)));
}

async function renderWho() {
  const who = document.getElementById("who");
  if (!session.token) { who.replaceChildren(); return; }
  const user = await me();
  let orgs = [];
  try { orgs = (await api("GET", "/orgs"))?.items || []; } catch { /* keep the header usable */ }
  const select = h("select", {
    "aria-label": "Organization", class: "org-switch",
    onchange: async () => { session.org = select.value; forgetMe(); await start(true); },
  }, orgs.map((o) => h("option", { value: o.org_id }, o.org_name || o.org_id)));
  select.value = user.org_id;
  mount(who,
    orgs.length > 1 ? select : h("span", { class: "muted" }, user.org_name || user.org_id), " ",
    h("span", { class: "email" }, user.user_email), " ",
    h("button", { class: "link", id: "sign-out", onclick: signOut }, "Sign out"));
}

export async function signOut() {
  try { await api("POST", "/auth/logout"); } catch { /* the token may already be gone */ }
  session.clear();
  forgetMe();
  renderNav();
  await renderWho();
  navigate("/sign-in");
}

async function render() {
  const { path, query } = current();
  const page = document.getElementById("page");
  let route = routes.find((r) => r.rx.test(path));
  if (!session.token && !(route && route.public)) {
    navigate("/sign-in", path !== "/" && path !== "/sign-in" ? { next: path } : undefined);
    return;
  }
  if (!route) {
    mount(page, h("h1", {}, "Not found"), h("p", {}, `No page at ${path}.`), h("a", { href: "#/" }, "Home"));
    return;
  }
  if (session.token) {
    try { await me(); } catch (e) { mount(page, h("p", { class: "error" }, errorText(e))); return; }
  }
  const m = route.rx.exec(path);
  const el = document.createElement(route.tagName);
  el.params = Object.fromEntries(route.keys.map((k, i) => [k, decodeURIComponent(m[i + 1])]));
  el.query = query;
  document.title = route.title ? `${route.title} · Dagy` : "Dagy";
  renderedPath = path;
  mount(page, el);
  renderNav();
}

async function start(refreshWho = false) {
  if (refreshWho || session.token) {
    // the header (orgs) loads beside the page, not before it
    renderWho().catch((e) => { if (e.status !== 401) toast(errorText(e), "error"); });
  }
  await render();
}

// The pages: every static/pages/*.js (the server lists them); each calls registerPage.
const PAGES = (document.querySelector('meta[name="dagy-pages"]')?.content || "").split(",").filter(Boolean);

onUnauthorized(() => { session.clear(); forgetMe(); renderNav(); renderWho(); navigate("/sign-in", { next: current().path }); });
window.addEventListener("hashchange", () => render());
document.addEventListener("dagy:signed-in", () => start(true));

// Back from the browser sign-in (/sign-in): its answer, for the sign-in page to show an error.
let browserSignIn = null;
export const browserSignInResult = () => browserSignIn;
const back = finishBrowserSignIn().then((r) => {
  browserSignIn = r;
  if (r?.next) history.replaceState(null, "", "#" + r.next);
});

// Who is signed in loads while the page modules do (render() awaits the same request).
if (session.token) me().catch(() => {});
// No top-level await: page modules import this one, so it must finish evaluating first.
Promise.allSettled([back, ...PAGES.map((p) => import(`./pages/${p}.js`))]).then(() => {
  started = true;
  return start();
});
