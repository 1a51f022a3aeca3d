// Super admin pages (docs/admin.md): customer orgs (filters, suspend/activate, credits) and the
// exception traces (list, one trace's content). The API answers 403 to anyone else; the pages are
// only in the nav of a super admin.
import { api, get } from "../api.js";
import { href, registerPage } from "../app.js";
import { action, fmtTime, h, isSuperAdmin, link, mount, table } from "../ui.js";
import { Page, button, form, pagedTable, pre, section } from "./kit.js";

const adminNav = () => h("p", { class: "tabs" }, link(href("/admin"), "Customers"), " · ", link(href("/admin/exceptions"), "Exceptions"));
const onlySuper = () => [h("h1", {}, "Admin"), h("p", { class: "muted not-allowed" }, "Super admins only.")];

const statusButton = (c, done) => c.status === "suspended"
  ? button("Activate", () => action(() => api("POST", `/admin/customers/${encodeURIComponent(c.org_id)}/activate`), `Activated ${c.org_name}`).then(done), { class: "resume" })
  : button("Suspend", () => action(() => api("POST", `/admin/customers/${encodeURIComponent(c.org_id)}/suspend`), `Suspended ${c.org_name}`).then(done), { class: "pause danger" });

class CustomersPage extends Page {
  async load() {
    if (!isSuperAdmin()) return onlySuper();
    const q = this.query || new URLSearchParams();
    const filters = { status: q.get("status"), plan: q.get("plan"), search: q.get("search") };
    const columns = [
      { title: "Organization", cell: (c) => link(href(`/admin/customers/${encodeURIComponent(c.org_id)}`), c.org_name || c.org_id) },
      { title: "Owner", cell: (c) => c.owner_email || "—" },
      { title: "Plan", cell: (c) => c.plan },
      { title: "Status", cell: (c) => h("span", { class: `badge st-${c.status === "active" ? "completed" : "failed"}` }, c.status) },
      { title: "Members", cell: (c) => String(c.member_count ?? "—") },
      { title: "Created", cell: (c) => fmtTime(c.created_at) },
      { title: "", class: "row-actions", cell: (c) => statusButton(c, () => this.reload()) },
    ];
    const list = await pagedTable(columns, (token) => get("/admin/customers", { ...filters, limit: 50, next_token: token }), { empty: "No customers match." });
    return [
      h("h1", {}, "Customers"), adminNav(),
      form([
        { name: "search", label: "Search", value: filters.search || "", placeholder: "name or owner email" },
        { name: "status", label: "Status", type: "select", options: [["", "any"], "active", "suspended"], value: filters.status || "" },
        { name: "plan", label: "Plan", value: filters.plan || "", placeholder: "free, pro, ..." },
      ], async (v) => { location.hash = href("/admin", v); }, { submit: "Filter", id: "customer-filters", read: true }),
      list,
    ];
  }
}

class CustomerPage extends Page {
  async load() {
    if (!isSuperAdmin()) return onlySuper();
    const path = `/admin/customers/${encodeURIComponent(this.params.id)}`;
    const [c, members, usage] = await Promise.all([get(path), get(`${path}/members`), get(`${path}/usage`)]);
    return [
      adminNav(),
      h("h1", {}, c.org_name || c.org_id),
      h("p", { class: "muted" }, `${c.org_id} · owner ${c.owner_email || "—"} · plan ${c.plan} · ${c.status}`),
      h("p", {}, statusButton(c, () => this.reload())),
      section("Credits",
        h("p", {}, "Balance ", h("strong", { class: "credits" }, String(c.credits_balance ?? 0))),
        form([{ name: "amount", label: "Add (negative deducts)", type: "number", required: true }],
          async (v) => { await api("POST", `${path}/credits`, v); this.reload(); }, { submit: "Adjust credits", id: "credits", ok: "Credits adjusted" })),
      section("Members", table([
        { title: "Member", cell: (m) => m.user_email || m.email },
        { title: "Role", cell: (m) => m.role },
        { title: "Joined", cell: (m) => fmtTime(m.joined_at) },
      ], members.items || [])),
      section("Usage by month", table([
        { title: "Period", cell: (u) => u.period },
        { title: "Runs", cell: (u) => String(u.run_count) },
        { title: "Tasks", cell: (u) => String(u.task_count) },
        { title: "Cost", cell: (u) => String(u.estimated_cost_usd) },
      ], usage.items || [], { empty: "No usage." })),
      section("Notes and flags", pre({ notes: c.notes, feature_flags: c.feature_flags, quota_overrides: c.quota_overrides })),
    ];
  }
}

class ExceptionsPage extends Page {
  async load() {
    if (!isSuperAdmin()) return onlySuper();
    const { items, total } = await get("/admin/exceptions", { limit: 100 });
    const view = h("div", { class: "trace", id: "trace" });
    const show = (t) => action(async () => {
      const { stack, ...rest } = await get("/admin/exceptions/content", { key: t.key });
      mount(view, h("h2", {}, t.key), pre(rest), typeof stack === "string" ? h("pre", { class: "stack" }, stack) : null);
    });
    return [
      h("h1", {}, "Exception traces"), adminNav(),
      h("p", { class: "muted" }, `${total ?? items.length} traces, newest first.`),
      table([
        { title: "Time", cell: (t) => fmtTime(t.time) },
        { title: "Kind", cell: (t) => t.kind || "—" },
        { title: "Org", cell: (t) => t.org_id || "—" },
        { title: "Exception", cell: (t) => `${t.exception_type || "?"}: ${t.message || ""}` },
        { title: "", class: "row-actions", cell: (t) => button("Show", () => show(t)) },
      ], items || [], { empty: "No exception traces." }),
      view,
    ];
  }
}

customElements.define("dagy-admin-customers-page", CustomersPage);
customElements.define("dagy-admin-customer-page", CustomerPage);
customElements.define("dagy-admin-exceptions-page", ExceptionsPage);
registerPage("/admin", "dagy-admin-customers-page", { title: "Customers", nav: "Admin", order: 95, superAdmin: true });
registerPage("/admin/customers/:id", "dagy-admin-customer-page", { title: "Customer", superAdmin: true });
registerPage("/admin/exceptions", "dagy-admin-exceptions-page", { title: "Exception traces", superAdmin: true });
