// Flows: list, a flow's versions, run a version with a form from its parameter types.
import { api, get } from "../api.js";
import { href, navigate, registerPage } from "../app.js";
import { action, errorText, fmtTime, h, mount, schemaForm, table, when } from "../ui.js";

const TYPES = { int: "integer", integer: "integer", float: "number", number: "number", str: "string", string: "string", bool: "boolean", boolean: "boolean" };

// The flow spec's parameter_schema ({name: {type, required, default}}) as a JSON schema.
export function paramSchema(spec) {
  const src = spec?.parameter_schema || Object.fromEntries(Object.entries(spec?.parameters || {}).map(([k, v]) => [k, { default: v }]));
  const properties = {};
  const required = [];
  for (const [name, p] of Object.entries(src)) {
    const type = TYPES[String(p.type || "").toLowerCase()];
    properties[name] = { ...(type ? { type } : {}), default: p.default, description: p.annotation || p.type || "any (JSON)" };
    if (p.enum) properties[name].enum = p.enum;
    if (p.required) required.push(name);
  }
  return { type: "object", properties, required };
}

// A run form: fields from the schema, a Run button that POSTs /runs with `target` and opens the run.
export function runForm(spec, target) {
  const form = schemaForm(paramSchema(spec), spec?.parameters || {});
  const error = h("p", { class: "error", role: "alert" });
  const el = h("form", { class: "card run-form" }, h("h2", {}, "Run"), form.el, error,
    h("button", { type: "submit", class: "primary" }, "Run"));
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    let parameters;
    try { parameters = form.value(); } catch (e) { error.textContent = `Bad JSON: ${e.message}`; return; }
    try {
      const r = await api("POST", "/runs", { ...target, parameters });
      navigate(`/runs/${r.run_id}`);
    } catch (e) { error.textContent = errorText(e); }
  });
  return el;
}

class FlowsPage extends HTMLElement {
  async connectedCallback() {
    mount(this, h("h1", {}, "Flows"), h("p", { class: "muted" }, "Loading…"));
    try {
      const items = [];
      let token;
      do { const p = await get("/flows", { limit: 100, next_token: token }); items.push(...p.items); token = p.next_token; } while (token && items.length < 1000);
      mount(this, h("h1", {}, "Flows"), table([
        { title: "Flow", cell: (f) => h("a", { href: href(`/flows/${encodeURIComponent(f.flow_name)}`) }, f.flow_name) },
        { title: "Latest version", cell: (f) => String(f.flow_version) },
        { title: "Status", cell: (f) => f.status || "" },
        { title: "Updated", cell: (f) => fmtTime(f.updated_at) },
      ], items, { empty: "No flows registered yet." }));
    } catch (e) { mount(this, h("h1", {}, "Flows"), h("p", { class: "error" }, errorText(e))); }
  }
}

class FlowPage extends HTMLElement {
  async connectedCallback() {
    const name = this.params.name;
    const enc = encodeURIComponent(name);
    mount(this, h("h1", {}, "Flow ", name), h("p", { class: "muted" }, "Loading…"));
    try {
      const [versions, deps] = await Promise.all([get(`/flows/${enc}/versions`), get("/deployments", { limit: 100 })]);
      const mine = deps.items.filter((d) => d.flow_name === name);
      const chosen = this.query?.get("version") || versions.items[0]?.flow_version;
      const detail = chosen ? await get(`/flows/${enc}/${encodeURIComponent(chosen)}`) : null;
      const spec = detail?.flow_spec;
      mount(this,
        h("h1", {}, "Flow ", name),
        h("h2", {}, "Versions"),
        table([
          { title: "Version", cell: (v) => h("a", { href: href(`/flows/${enc}`, { version: v.flow_version }) }, String(v.flow_version)) },
          { title: "Status", cell: (v) => v.status || "" },
          { title: "Created", cell: (v) => fmtTime(v.created_at) },
          { title: "", cell: (v) => mine.length ? when("flows.write", h("span", {}, mine.map((d) =>
            d.flow_version === v.flow_version ? h("span", { class: "muted" }, `live on ${d.deployment_name} `)
              : h("button", { onclick: () => action(() => api("PATCH", `/deployments/${encodeURIComponent(d.deployment_name)}`, { flow_version: v.flow_version }), `${d.deployment_name} now runs ${v.flow_version}`).then(() => this.connectedCallback()) }, `Use on ${d.deployment_name}`)))) : "" },
        ], versions.items),
        h("h2", {}, "Deployments"),
        table([
          { title: "Deployment", cell: (d) => h("a", { href: href(`/deployments/${encodeURIComponent(d.deployment_name)}`) }, d.deployment_name) },
          { title: "Version", cell: (d) => String(d.flow_version) },
        ], mine, { empty: "Not deployed." }),
        spec ? h("p", { class: "muted" }, `Version ${chosen}: ${Object.keys(spec.tasks || {}).length} tasks, ${(spec.task_runs || []).length} task runs`) : null,
        spec ? when("runs.trigger", runForm(spec, { flow_name: name, flow_version: chosen })) : null);
    } catch (e) { mount(this, h("h1", {}, "Flow ", name), h("p", { class: "error" }, errorText(e))); }
  }
}

customElements.define("dagy-flows", FlowsPage);
customElements.define("dagy-flow", FlowPage);
registerPage("/flows", "dagy-flows", { title: "Flows", nav: "Flows", order: 30, permission: "flows.read" });
registerPage("/flows/:name", "dagy-flow", { title: "Flow", permission: "flows.read" });
