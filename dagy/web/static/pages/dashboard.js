// Dashboard from /ui/dashboard (widgets + stats + recent activity).
import { get } from "../api.js";
import { href, registerPage } from "../app.js";
import { badge, errorText, fmtTime, h, mount, poll, table } from "../ui.js";

class DashboardPage extends HTMLElement {
  connectedCallback() {
    this.body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
    mount(this, h("h1", {}, "Dashboard"), this.body);
    this.load();
    this.stop = poll(() => this.load(), 5000, this);
  }

  disconnectedCallback() { this.stop?.(); }

  async load() {
    let d;
    try { d = await get("/ui/dashboard"); } catch (e) { mount(this.body, h("p", { class: "error" }, errorText(e))); return; }
    const stats = d.stats || {};
    const tiles = (d.widgets || []).filter((w) => w.type === "stat").map((w) =>
      h("div", { class: "stat", "data-stat": w.stat }, h("b", {}, String(stats[w.stat] ?? "—")), h("span", { class: "muted" }, w.title)));
    const recent = (d.recent_activity || []).filter((a) => a.run_id);
    mount(this.body,
      h("div", { class: "stats" }, tiles),
      stats.period_start ? h("p", { class: "muted" }, `Period ${fmtTime(stats.period_start)} – ${fmtTime(stats.period_end)} · plan ${stats.plan ?? "—"}`) : null,
      h("h2", {}, "Recent runs"),
      table([
        { title: "Run", cell: (r) => h("a", { href: href(`/runs/${r.run_id}`), class: "mono" }, r.run_id) },
        { title: "Flow", cell: (r) => r.flow_name || "" },
        { title: "Status", cell: (r) => badge(r.status) },
        { title: "When", cell: (r) => fmtTime(r.timestamp || r.created_at) },
      ], recent, { empty: "No runs yet." }),
      h("p", {}, h("a", { href: href("/runs") }, "All runs →")));
  }
}
customElements.define("dagy-dashboard", DashboardPage);
registerPage("/", "dagy-dashboard", { title: "Dashboard" });
registerPage("/dashboard", "dagy-dashboard", { title: "Dashboard", nav: "Dashboard", order: 10, permission: "runs.read" });
