// Access: API keys (a new key shown once, never again) and the org's members (add, change role).
import { api, get } from "../api.js";
import { registerPage } from "../app.js";
import { action, can, field, fmtTime, h, me, mount, toast, errorText } from "../ui.js";
import { Page, confirmButton, form, notAllowed, pagedTable, section } from "./kit.js";

const ROLES = ["owner", "admin", "developer", "viewer"];
// The permissions a key may carry: the server's role matrix (index.html's dagy-roles meta).
const SCOPES = (() => {
  try {
    const matrix = JSON.parse(document.querySelector('meta[name="dagy-roles"]')?.content || "{}");
    return [...new Set(Object.values(matrix).flat())].sort();
  } catch { return []; }
})();

class AccessPage extends Page {
  async load() {
    const user = await me();
    return [
      h("h1", {}, "API keys and members"),
      can("admin.api_keys") ? await this.keys() : section("API keys", notAllowed("API keys", "admin.api_keys")),
      can("admin.members") ? await this.members(user.org_id) : section("Members", notAllowed("members", "admin.members")),
    ];
  }

  async keys() {
    const shown = h("div", { class: "once", id: "new-key" });
    const columns = [
      { title: "Key", cell: (k) => h("span", { class: "name" }, k.name) },
      { title: "Prefix", cell: (k) => h("span", { class: "mono" }, k.key_prefix) },
      { title: "Scopes", cell: (k) => (k.scopes || []).join(", ") },
      { title: "Created", cell: (k) => fmtTime(k.created_at) },
      { title: "Last used", cell: (k) => fmtTime(k.last_used_at) },
      {
        title: "", class: "row-actions",
        cell: (k) => confirmButton("Delete", () => action(() => api("DELETE", `/api-keys/${encodeURIComponent(k.key_id)}`), `Deleted ${k.name}`).then(() => this.reload())),
      },
    ];
    const list = await pagedTable(columns, (token) => get("/api-keys", { limit: 100, next_token: token }), { empty: "No API keys." });
    const name = h("input", { name: "name", required: true, autocomplete: "off" });
    const boxes = SCOPES.map((s) => h("label", { class: "scope" }, h("input", { type: "checkbox", value: s }), ` ${s}`));
    const create = h("form", { class: "inline-form", id: "new-api-key" },
      field("Name", name), h("fieldset", { class: "scopes" }, h("legend", {}, "Scopes"), boxes),
      h("button", { type: "submit", class: "primary" }, "Create key"));
    create.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const scopes = boxes.map((b) => b.firstChild).filter((i) => i.checked).map((i) => i.value);
      try {
        const made = await api("POST", "/api-keys", { name: name.value.trim(), scopes });
        await this.reload();
        mount(shown, h("p", {}, "Copy the key now: it is shown this once."), h("code", { class: "secret-once" }, made.key));
        this.prepend(shown);
      } catch (e) { toast(errorText(e), "error"); }
    });
    return section("API keys", list, h("h3", {}, "New key"), create);
  }

  async members(orgId) {
    const path = `/orgs/${encodeURIComponent(orgId)}/members`;
    const columns = [
      { title: "Member", cell: (m) => m.email },
      {
        title: "Role",
        cell: (m) => {
          const pick = h("select", { "aria-label": `Role of ${m.email}` }, ROLES.map((r) => h("option", { value: r }, r)));
          pick.value = m.role;
          pick.addEventListener("change", () => action(
            () => api("PATCH", `${path}/${encodeURIComponent(m.email)}/role`, { role: pick.value }), `${m.email} is now ${pick.value}`,
          ).catch(() => { pick.value = m.role; }));
          return pick;
        },
      },
      { title: "Status", cell: (m) => m.status },
      { title: "Joined", cell: (m) => fmtTime(m.joined_at) },
    ];
    const list = await pagedTable(columns, (token) => get(path, { limit: 100, next_token: token }), { empty: "No members." });
    return section("Members", list, h("h3", {}, "Add a member"), form([
      { name: "email", label: "Email", type: "email", required: true },
      { name: "role", label: "Role", type: "select", options: ROLES, value: "developer" },
    ], async (v) => { await api("POST", path, v); this.reload(); }, { submit: "Add member", id: "new-member", ok: "Member added" }));
  }
}

customElements.define("dagy-access-page", AccessPage);
registerPage("/access", "dagy-access-page", { title: "API keys and members", nav: "Access", order: 80, permission: "admin.members" });
