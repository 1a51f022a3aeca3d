// Rendering helpers. Every user string becomes a text node: nothing here sets innerHTML.
import { api, session } from "./api.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const SVG_TAGS = new Set(["svg", "g", "rect", "line", "path", "text", "circle", "title", "polyline", "defs", "marker", "tspan"]);

function append(el, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) { child.forEach((c) => append(el, c)); return; }
  el.append(child instanceof Node ? child : document.createTextNode(String(child)));
}

// h("button", {class: "x", onclick: fn, disabled: true}, "text", child...)
// Attributes: on* take functions; "class", "for", dataset via "data-*"; true/false toggles.
// Values are set with setAttribute/properties, never parsed as HTML.
export function h(tag, attrs, ...children) {
  const el = SVG_TAGS.has(tag) ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value" && "value" in el) el.value = v;
    else if (k === "checked") el.checked = !!v;
    else if (k === "style") throw new Error("inline styles are blocked by the CSP: use a class");
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

// s(tag, attrs, ...children): h for SVG elements (any tag).
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

// mount(parent, ...children): replace parent's children.
export function mount(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const t = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box?.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// errorText(e): the API's message (and error code) for an ApiError, else e.message.
export const errorText = (e) => (e?.error ? `${e.message} (${e.error})` : String(e?.message || e));

// action(fn, okText): run an async action, toasting its result or its API error.
export async function action(fn, okText) {
  try {
    const r = await fn();
    if (okText) toast(okText, "ok");
    return r;
  } catch (e) {
    toast(errorText(e), "error");
    throw e;
  }
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "—";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} m ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} m`;
}

export const badge = (status) => h("span", { class: `badge st-${String(status || "").toLowerCase()}` }, String(status || "?"));

// table(columns, rows, {empty}) where columns = [{title, cell: row => node|string, class?}]
export function table(columns, rows, opts = {}) {
  if (!rows.length) return h("p", { class: "muted empty" }, opts.empty || "Nothing here yet.");
  return h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.class }, c.title)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, columns.map((c) => h("td", { class: c.class }, c.cell(r)))))));
}

export const link = (href, text, attrs = {}) => h("a", { href, ...attrs }, text);

// A labelled field. field("Name", input)
export const field = (label, input, hint) => h("label", { class: "field" }, h("span", {}, label), input, hint ? h("small", { class: "muted" }, hint) : null);

// schemaForm(schema, values) -> {el, value()} : a form for a JSON schema object's properties
// (string, integer, number, boolean, enum; anything else as JSON text). value() throws on bad JSON.
export function schemaForm(schema, values = {}) {
  const props = schema?.properties || {};
  const required = new Set(schema?.required || []);
  const getters = {};
  const rows = Object.entries(props).map(([name, p]) => {
    const v = values[name] ?? p.default;
    const type = Array.isArray(p.type) ? p.type.find((t) => t !== "null") : p.type;
    let input;
    if (p.enum) {
      input = h("select", { name }, p.enum.map((o) => h("option", { value: JSON.stringify(o) }, String(o))));
      if (v !== undefined) input.value = JSON.stringify(v);
      getters[name] = () => JSON.parse(input.value);
    } else if (type === "boolean") {
      input = h("input", { type: "checkbox", name, checked: !!v });
      getters[name] = () => input.checked;
    } else if (type === "integer" || type === "number") {
      input = h("input", { type: "number", name, step: type === "integer" ? "1" : "any", value: v ?? "" });
      getters[name] = () => (input.value === "" ? undefined : Number(input.value));
    } else if (type === "string") {
      input = h("input", { type: "text", name, value: v ?? "" });
      getters[name] = () => (input.value === "" && !required.has(name) ? undefined : input.value);
    } else {
      input = h("textarea", { name, rows: 3 }, v === undefined ? "" : JSON.stringify(v, null, 2));
      getters[name] = () => (input.value.trim() === "" ? undefined : JSON.parse(input.value));
    }
    if (required.has(name)) input.required = true;
    return field(`${p.title || name}${required.has(name) ? " *" : ""}`, input, p.description || (type ? type : ""));
  });
  const el = h("div", { class: "schema-form" }, rows.length ? rows : h("p", { class: "muted" }, "No parameters."));
  return {
    el,
    value() {
      const out = {};
      for (const [k, g] of Object.entries(getters)) {
        const x = g();
        if (x !== undefined) out[k] = x;
      }
      return out;
    },
  };
}

// ---- who is signed in, and what they may do ----
const ROLES = (() => {
  try { return JSON.parse(document.querySelector('meta[name="dagy-roles"]')?.content || "{}"); } catch { return {}; }
})();
let _me = null;
let _pending = null;

// me(): GET /users/me, cached until signOut/switchOrg. {user_email, super_admin, org_id, org_name, role}
export async function me(refresh = false) {
  if (!session.token) return null;
  if (_me && !refresh) return _me;
  if (!_pending || refresh) {
    const p = (_pending = api("GET", "/users/me").then((r) => { if (_pending === p) _me = r; return r; }).finally(() => { if (_pending === p) _pending = null; }));
  }
  return _pending;
}
export const forgetMe = () => { _me = null; _pending = null; };

// can("runs.trigger"): from the signed-in role (the server's role matrix). The API still checks.
export function can(permission) {
  if (!_me) return false;
  return (ROLES[_me.role] || []).includes(permission);
}
export const isSuperAdmin = () => !!_me?.super_admin;

// when(perm, node): node if the user has the permission, else nothing (viewers see no write buttons).
export const when = (permission, node) => (can(permission) ? node : null);

// poll(fn, ms, el): call fn every ms while el is in the document; returns a stop function.
export function poll(fn, ms, el) {
  let t = null;
  let stopped = false;
  const tick = async () => {
    if (stopped || (el && !el.isConnected)) return;
    if (!document.hidden) {
      try { await fn(); } catch { /* shown by the page */ }
    }
    if (!stopped && (!el || el.isConnected)) t = setTimeout(tick, ms);
  };
  t = setTimeout(tick, ms);
  return () => { stopped = true; clearTimeout(t); };
}
