// Secrets: names and dates only. A value is typed into a password field and sent; the page never
// asks GET /secrets/{name}/value, so no value ever reaches the browser.
import { api, get } from "../api.js";
import { registerPage } from "../app.js";
import { action, can, fmtTime, h } from "../ui.js";
import { Page, confirmButton, form, notAllowed, pagedTable, section } from "./kit.js";

class SecretsPage extends Page {
  async load() {
    if (!can("secrets.read")) return [h("h1", {}, "Secrets"), notAllowed("secrets", "secrets.read")];
    const writable = can("secrets.write");
    const q = this.query || new URLSearchParams();
    const environment = q.get("environment") || undefined;
    const name = (s) => encodeURIComponent(s.secret_name);
    const columns = [
      { title: "Secret", cell: (s) => h("span", { class: "mono" }, s.secret_name) },
      { title: "Environment", cell: (s) => s.environment || "—" },
      { title: "Value", cell: () => h("span", { class: "muted" }, "hidden") },
      { title: "Updated", cell: (s) => fmtTime(s.updated_at || s.created_at) },
      {
        title: "", class: "row-actions",
        cell: (s) => writable ? h("span", { class: "actions" },
          form([{ name: "value", label: "New value", type: "password", required: true }],
            async (v) => { await api("PUT", `/secrets/${name(s)}`, v); this.reload(); },
            { submit: "Replace", ok: `Replaced ${s.secret_name}` }),
          confirmButton("Delete", () => action(() => api("DELETE", `/secrets/${name(s)}`), `Deleted ${s.secret_name}`).then(() => this.reload())),
        ) : null,
      },
    ];
    const list = await pagedTable(columns, (token) => get("/secrets", { environment, limit: 100, next_token: token }), { empty: "No secrets." });
    return [
      h("h1", {}, "Secrets"),
      h("p", { class: "muted" }, "Values are write-only here: flows read them at run time."),
      list,
      writable ? section("New secret", form([
        { name: "secret_name", label: "Name", required: true },
        { name: "value", label: "Value", type: "password", required: true },
        { name: "environment", label: "Environment", placeholder: "(all)" },
      ], async (v) => { await api("POST", "/secrets", v); this.reload(); }, { submit: "Create secret", id: "new-secret", ok: "Secret created" })) : null,
    ];
  }
}

customElements.define("dagy-secrets-page", SecretsPage);
registerPage("/secrets", "dagy-secrets-page", { title: "Secrets", nav: "Secrets", order: 72, permission: "secrets.read" });
