// Deployments: list, one deployment (version, rollback, run with a form from the flow's parameters).
import { api, get } from "../api.js";
import { href, registerPage } from "../app.js";
import { action, errorText, fmtTime, h, mount, table, when } from "../ui.js";
import { runForm } from "./flows.js";

class DeploymentsPage extends HTMLElement {
  async connectedCallback() {
    mount(this, h("h1", {}, "Deployments"), h("p", { class: "muted" }, "Loading…"));
    try {
      const page = await get("/deployments", { limit: 100 });
      mount(this, h("h1", {}, "Deployments"), table([
        { title: "Deployment", cell: (d) => h("a", { href: href(`/deployments/${encodeURIComponent(d.deployment_name)}`) }, d.deployment_name) },
        { title: "Flow", cell: (d) => h("a", { href: href(`/flows/${encodeURIComponent(d.flow_name)}`) }, d.flow_name) },
        { title: "Version", cell: (d) => String(d.flow_version) },
        { title: "Environment", cell: (d) => d.environment || "—" },
        { title: "Status", cell: (d) => d.status || "" },
        { title: "Updated", cell: (d) => fmtTime(d.updated_at) },
      ], page.items, { empty: "No deployments yet." }));
    } catch (e) { mount(this, h("h1", {}, "Deployments"), h("p", { class: "error" }, errorText(e))); }
  }
}

class DeploymentPage extends HTMLElement {
  async connectedCallback() {
    const name = this.params.name;
    const enc = encodeURIComponent(name);
    mount(this, h("h1", {}, "Deployment ", name), h("p", { class: "muted" }, "Loading…"));
    try {
      const d = await get(`/deployments/${enc}`);
      const fenc = encodeURIComponent(d.flow_name);
      const [versions, flow] = await Promise.all([
        get(`/flows/${fenc}/versions`),
        get(`/flows/${fenc}/${encodeURIComponent(d.flow_version)}`),
      ]);
      const reload = () => this.connectedCallback();
      const pick = h("select", { name: "flow_version" }, versions.items.map((v) => h("option", { value: v.flow_version }, String(v.flow_version))));
      pick.value = d.flow_version;
      mount(this,
        h("h1", {}, "Deployment ", name),
        h("dl", { class: "kv card" },
          h("dt", {}, "Flow"), h("dd", {}, h("a", { href: href(`/flows/${fenc}`) }, d.flow_name)),
          h("dt", {}, "Version"), h("dd", { class: "dep-version" }, String(d.flow_version)),
          h("dt", {}, "Environment"), h("dd", {}, d.environment || "—"),
          h("dt", {}, "Schedule"), h("dd", {}, d.schedule || "—"),
          h("dt", {}, "Max concurrent runs"), h("dd", {}, String(d.max_concurrent_runs ?? "—")),
          h("dt", {}, "Updated"), h("dd", {}, fmtTime(d.updated_at))),
        when("flows.write", h("div", { class: "toolbar" },
          pick,
          h("button", { onclick: () => action(() => api("PATCH", `/deployments/${enc}`, { flow_version: pick.value }), "Version changed").then(reload) }, "Use this version"),
          h("button", { id: "rollback", onclick: () => action(() => api("POST", `/deployments/${enc}/rollback`, {}), "Rolled back").then(reload) }, "Roll back"))),
        h("h2", {}, "Recent runs"),
        h("p", {}, h("a", { href: href("/runs", { deployment_name: name }) }, "Runs of this deployment →")),
        when("runs.trigger", runForm(flow.flow_spec, { deployment: name })));
    } catch (e) { mount(this, h("h1", {}, "Deployment ", name), h("p", { class: "error" }, errorText(e))); }
  }
}

customElements.define("dagy-deployments", DeploymentsPage);
customElements.define("dagy-deployment", DeploymentPage);
registerPage("/deployments", "dagy-deployments", { title: "Deployments", nav: "Deployments", order: 35, permission: "flows.read" });
registerPage("/deployments/:name", "dagy-deployment", { title: "Deployment", permission: "flows.read" });
