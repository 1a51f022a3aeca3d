// Environments: list, create, delete, and each one's settings (executor, config, protected: edited
// with the API's validation errors in the form) and variables (set, delete) (docs/environments.md).
import { api, get } from "../api.js";
import { href, registerPage } from "../app.js";
import { action, can, fmtTime, h, link, mount, table } from "../ui.js";
import { Page, confirmButton, editForm, form, pre, section } from "./kit.js";

class EnvironmentsPage extends Page {
  async load() {
    const writable = can("environments.write");
    const { items } = await get("/environments");
    const columns = [
      { title: "Environment", cell: (e) => link(href(`/environments/${encodeURIComponent(e.env_name)}`), e.env_name) },
      { title: "Executor", cell: (e) => e.default_executor || "—" },
      { title: "Protected", cell: (e) => (e.is_protected ? "yes" : "no") },
      { title: "Order", cell: (e) => e.promotion_order ?? "—" },
      { title: "Created", cell: (e) => fmtTime(e.created_at) },
      {
        title: "", class: "row-actions",
        cell: (e) => writable && !e.is_protected ? confirmButton("Delete", () => action(
          () => api("DELETE", `/environments/${encodeURIComponent(e.env_name)}`), `Deleted ${e.env_name}`,
        ).then(() => this.reload())) : null,
      },
    ];
    const names = (items || []).map((e) => e.env_name);
    const diffBox = h("div", { id: "env-diff" });
    return [
      h("h1", {}, "Environments"),
      table(columns, items || [], { empty: "No environments." }),
      names.length > 1 ? section("Compare deployments",
        form([
          { name: "source", label: "From", type: "select", options: names },
          { name: "target", label: "To", type: "select", options: names, value: names[1] },
        ], async (v) => mount(diffBox, diffView(await get(`/environments/${encodeURIComponent(v.source)}/diff/${encodeURIComponent(v.target)}`))),
        { submit: "Compare", id: "env-compare", read: true }),
        diffBox,
        writable ? form([
          { name: "source_deployment", label: "Promote deployment", required: true },
          { name: "target_environment", label: "To", type: "select", options: names },
          { name: "new_deployment_name", label: "As (optional)" },
        ], async (v) => { await api("POST", "/environments/promote", v); }, { submit: "Promote", id: "new-promotion", ok: "Deployment promoted" }) : null) : null,
      writable ? section("New environment", form([
        { name: "env_name", label: "Name", required: true },
        { name: "default_executor", label: "Default executor", placeholder: "local" },
        { name: "config_json", label: "Config (JSON)", type: "json", placeholder: "{}" },
        { name: "is_protected", label: "Protected", type: "checkbox", value: false },
      ], async (v) => { await api("POST", "/environments", v); this.reload(); }, { submit: "Create environment", id: "new-environment", ok: "Environment created" })) : null,
    ];
  }
}

// GET /environments/{a}/diff/{b}: deployments only on one side, and versions that differ.
function diffView(d) {
  const dep = (x) => (x ? `${x.deployment_name} (${x.flow_name} v${x.flow_version})` : "—");
  const rows = [
    ...(d.only_in_source || []).map((x) => ({ flow: x.flow_name, source: x, target: null })),
    ...(d.only_in_target || []).map((x) => ({ flow: x.flow_name, source: null, target: x })),
    ...(d.version_differs || []).map((x) => ({ flow: x.flow_name, source: x.source, target: x.target })),
  ];
  return table([
    { title: "Flow", cell: (r) => r.flow },
    { title: d.source_environment, cell: (r) => dep(r.source) },
    { title: d.target_environment, cell: (r) => dep(r.target) },
  ], rows, { empty: "No differences." });
}

class EnvironmentPage extends Page {
  async load() {
    const name = this.params.name;
    const path = `/environments/${encodeURIComponent(name)}`;
    const writable = can("environments.write");
    const [env, vars] = await Promise.all([get(path), get(`${path}/variables`)]);
    const rows = Object.entries(vars.variables || {}).map(([key, value]) => ({ key, value }));
    const columns = [
      { title: "Variable", cell: (r) => h("span", { class: "mono" }, r.key) },
      { title: "Value", cell: (r) => h("span", { class: "mono" }, String(r.value)) },
      {
        title: "", class: "row-actions",
        cell: (r) => writable ? confirmButton("Delete", () => action(
          () => api("DELETE", `${path}/variables/${encodeURIComponent(r.key)}`), `Deleted ${r.key}`,
        ).then(() => this.reload())) : null,
      },
    ];
    return [
      h("p", {}, link(href("/environments"), "← Environments")),
      h("h1", {}, env.env_name),
      h("p", { class: "muted" }, `Executor ${env.default_executor || "—"} · ${env.is_protected ? "protected" : "not protected"}`),
      writable
        ? section("Settings", editForm([
          { name: "default_executor", label: "Default executor", value: env.default_executor, placeholder: "local" },
          { name: "config_json", label: "Config (JSON)", type: "json", value: env.config_json || {}, rows: 6 },
          { name: "is_protected", label: "Protected", type: "checkbox", value: !!env.is_protected },
        ], async (changes) => {
          await api("PATCH", path, changes);
          this.reload();
        }, { submit: "Save environment", id: "edit-environment", ok: `Environment ${env.env_name} saved` }))
        : section("Config", pre(env.config_json || {})),
      section("Variables",
        table(columns, rows, { empty: "No variables." }),
        writable ? form([
          { name: "key", label: "Key", required: true },
          { name: "value", label: "Value", required: true },
        ], async (v) => {
          await api("PATCH", `${path}/variables`, { variables: { [v.key]: v.value } });
          this.reload();
        }, { submit: "Set variable", id: "set-variable", ok: "Variable set" }) : null),
    ];
  }
}

customElements.define("dagy-environments-page", EnvironmentsPage);
customElements.define("dagy-environment-page", EnvironmentPage);
registerPage("/environments", "dagy-environments-page", { title: "Environments", nav: "Environments", order: 70, permission: "environments.read" });
registerPage("/environments/:name", "dagy-environment-page", { title: "Environment", permission: "environments.read" });
