// What the settings-like pages (schedules ... admin) share, on top of ui.js: a page frame that
// loads and shows the API's error, a form from a field list, a two-click confirm, "More" paging.
// Every value goes through ui.js's h(): text nodes only.
import { action, errorText, field, h, mount, table, toast } from "../ui.js";

// This module's stylesheet, linked once (the CSP allows same-origin stylesheets, no inline styles).
if (!document.querySelector('link[data-dagy="pages"]')) {
  document.head.append(h("link", { rel: "stylesheet", href: new URL("./pages.css", import.meta.url).pathname, "data-dagy": "pages" }));
}

// A page element: subclasses implement async load() -> node(s); reload() re-renders in place.
export class Page extends HTMLElement {
  connectedCallback() { this.reload(); }
  async reload() {
    if (!this.firstChild) mount(this, h("p", { class: "muted" }, "Loading…"));
    try {
      mount(this, await this.load());
    } catch (e) {
      mount(this, h("p", { class: "error", role: "alert" }, errorText(e)));
    }
  }
}

export const section = (title, ...children) => h("section", { class: "card" }, h("h2", {}, title), ...children);

// The message a role without `permission` sees instead of a section.
export const notAllowed = (what, permission) =>
  h("p", { class: "muted not-allowed" }, `Your role cannot see ${what} (needs ${permission}).`);

// form(fields, onSubmit, {submit, id, ok, read}): read marks a form that changes nothing (filters,
// compare), which every role sees. fields = [{name, label, type, options, value, required,
// hint, placeholder}] with type text|password|number|select|textarea|json|checkbox|datetime.
// onSubmit(values) runs through ui.js's action() (its error toasted); the form resets after it.
export function form(fields, onSubmit, opts = {}) {
  const inputs = {};
  const rows = fields.map((f) => {
    let input;
    if (f.type === "select") {
      // The chosen option is marked selected, so a reset after a submit keeps it.
      input = h("select", { name: f.name }, f.options.map((o) => {
        const [value, label] = Array.isArray(o) ? o : [o, o];
        return h("option", { value, selected: f.value !== undefined && value === f.value }, label);
      }));
    } else if (f.type === "textarea" || f.type === "json") {
      input = h("textarea", { name: f.name, rows: 3, placeholder: f.placeholder }, f.value ?? "");
    } else if (f.type === "checkbox") {
      input = h("input", { type: "checkbox", name: f.name, checked: f.value !== false });
    } else {
      input = h("input", {
        type: f.type === "datetime" ? "datetime-local" : f.type || "text",
        name: f.name, value: f.value ?? "", placeholder: f.placeholder,
        autocomplete: f.type === "password" ? "new-password" : "off",
      });
    }
    if (f.required) input.required = true;
    inputs[f.name] = [f, input];
    return field(f.label || f.name, input, f.hint);
  });
  const button = h("button", { type: "submit", class: "primary" }, opts.submit || "Create");
  const el = h("form", { class: opts.read ? "inline-form read-form" : "inline-form", id: opts.id }, rows, button);
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let values;
    try {
      values = collect(inputs);
    } catch (e) {
      toast(errorText(e), "error");
      return;
    }
    button.disabled = true;
    try {
      await action(() => onSubmit(values), opts.ok);
      el.reset();
    } catch { /* toasted */ } finally { button.disabled = false; }
  });
  return el;
}

function collect(inputs) {
  const out = {};
  for (const [name, [f, input]] of Object.entries(inputs)) {
    let v;
    if (f.type === "checkbox") v = input.checked;
    else if (input.value.trim() === "") continue;
    else if (f.type === "number") v = Number(input.value);
    else if (f.type === "json") {
      try { v = JSON.parse(input.value); } catch { throw new Error(`${f.label || name}: not valid JSON`); }
    } else if (f.type === "datetime") v = new Date(input.value).toISOString();
    else v = input.value.trim();
    out[name] = v;
  }
  return out;
}

// A button that asks once more ("Delete" → "Confirm delete?") before it runs fn; no dialogs.
export function confirmButton(label, fn, attrs = {}) {
  let armed = false;
  const b = h("button", {
    ...attrs, type: "button", class: `danger ${attrs.class || ""}`.trim(),
    onclick: async () => {
      if (!armed) {
        armed = true;
        b.textContent = `Confirm ${label.toLowerCase()}?`;
        return;
      }
      b.disabled = true;
      try { await fn(); } catch { b.disabled = false; }
    },
  }, label);
  return b;
}

// button(label, fn, attrs): a plain action button (fn's errors are toasted by the caller's action()).
export const button = (label, fn, attrs = {}) => h("button", {
  ...attrs, type: "button",
  onclick: async (ev) => {
    const b = ev.currentTarget;
    b.disabled = true;
    try { await fn(); } catch { /* toasted */ } finally { b.disabled = false; }
  },
}, label);

// pagedTable(columns, loadPage, opts): a table whose "More" button fetches the next page.
// loadPage(next_token) -> {items, next_token}.
export async function pagedTable(columns, loadPage, opts = {}) {
  const box = h("div", { class: "paged" });
  const rows = [];
  let token = null;
  const more = h("button", { type: "button", class: "more" }, "More");
  const draw = () => mount(box, table(columns, rows, opts), token ? more : null);
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = await loadPage(token);
      rows.push(...(page.items || []));
      token = page.next_token || null;
      draw();
    } catch (e) { toast(errorText(e), "error"); } finally { more.disabled = false; }
  });
  const first = await loadPage(null);
  rows.push(...(first.items || []));
  token = first.next_token || null;
  draw();
  return box;
}

// The JSON of an object as a <pre> block (text, never HTML).
export const pre = (value) => h("pre", { class: "json" }, JSON.stringify(value ?? null, null, 2));

export const yesNo = (v) => h("span", { class: `badge ${v ? "st-completed" : "st-paused"}` }, v ? "enabled" : "paused");

// editForm(fields, onSubmit, {submit, id, ok}): a form prefilled from each field's value that sends
// only what changed (onSubmit(changes)); the API's refusal is shown in the form, not toasted: its
// message on top and each `details` entry under the field of that name. JSON fields that do not
// parse are refused in the form before any request.
export function editForm(fields, onSubmit, opts = {}) {
  const inputs = {};
  const errors = {};
  const rows = fields.map((f) => {
    let input;
    const initial = f.type === "json" ? JSON.stringify(f.value ?? {}, null, 2) : f.value;
    if (f.type === "select") {
      input = h("select", { name: f.name }, f.options.map((o) => {
        const [value, label] = Array.isArray(o) ? o : [o, o];
        return h("option", { value, selected: value === (f.value ?? "") }, label);
      }));
    } else if (f.type === "json" || f.type === "textarea") {
      input = h("textarea", { name: f.name, rows: f.rows || 4 }, initial ?? "");
    } else if (f.type === "checkbox") {
      input = h("input", { type: "checkbox", name: f.name, checked: !!f.value });
    } else {
      input = h("input", { type: f.type || "text", name: f.name, value: initial ?? "", placeholder: f.placeholder, autocomplete: "off" });
    }
    inputs[f.name] = [f, input];
    errors[f.name] = h("small", { class: "field-error error", "data-field": f.name });
    const row = field(f.label || f.name, input, f.hint);
    row.append(errors[f.name]);
    return row;
  });
  const problem = h("p", { class: "form-error error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary" }, opts.submit || "Save");
  const el = h("form", { class: "inline-form edit-form", id: opts.id }, problem, rows, button);
  const clear = () => { problem.textContent = ""; Object.values(errors).forEach((e) => { e.textContent = ""; }); };
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clear();
    const changes = {};
    for (const [name, [f, input]] of Object.entries(inputs)) {
      let v;
      if (f.type === "checkbox") v = input.checked;
      else if (f.type === "json") {
        try { v = JSON.parse(input.value.trim() || "{}"); } catch {
          errors[name].textContent = "not valid JSON";
          problem.textContent = `${f.label || name}: not valid JSON`;
          return;
        }
        if (JSON.stringify(v) === JSON.stringify(f.value ?? {})) continue;
      } else if (f.type === "number") v = input.value.trim() === "" ? null : Number(input.value);
      else v = input.value.trim() === "" ? null : input.value.trim();
      if (f.type !== "json" && v === (f.value ?? (f.type === "checkbox" ? false : null))) continue;
      changes[name] = v;
    }
    if (!Object.keys(changes).length) { problem.textContent = "Nothing changed."; return; }
    button.disabled = true;
    try {
      await onSubmit(changes);
      if (opts.ok) toast(opts.ok, "ok");
    } catch (e) {
      problem.textContent = errorText(e);
      for (const [k, msg] of Object.entries(e?.details || {})) {
        if (errors[k]) errors[k].textContent = typeof msg === "string" ? msg : JSON.stringify(msg);
      }
    } finally { button.disabled = false; }
  });
  return el;
}
