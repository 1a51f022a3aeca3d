// Schedules: list (filters, paging), create, pause, resume, trigger now, delete (docs/schedules.md).
import { api, get } from "../api.js";
import { href, registerPage } from "../app.js";
import { action, can, fmtTime, h, link } from "../ui.js";
import { Page, button, confirmButton, form, pagedTable, section, yesNo } from "./kit.js";

const MODES = ["cron", "interval", "one_time", "manual"];

const timing = (s) =>
  s.mode === "cron" ? s.cron_expression
    : s.mode === "interval" ? `every ${s.interval_seconds} s`
      : s.mode === "one_time" ? `at ${fmtTime(s.one_time_at || s.start_at)}` : "manual";

class SchedulesPage extends Page {
  async load() {
    const q = this.query || new URLSearchParams();
    const filters = { flow_name: q.get("flow_name"), mode: q.get("mode"), enabled: q.get("enabled") };
    const writable = can("schedules.write");
    const act = (s) => {
      const id = encodeURIComponent(s.schedule_id);
      const out = [];
      if (writable) {
        out.push(s.enabled
          ? button("Pause", () => action(() => api("PATCH", `/schedules/${id}`, { enabled: false }), `Paused ${s.schedule_id}`).then(() => this.reload()), { class: "pause" })
          : button("Resume", () => action(() => api("PATCH", `/schedules/${id}`, { enabled: true }), `Resumed ${s.schedule_id}`).then(() => this.reload()), { class: "resume" }));
      }
      if (can("runs.trigger")) {
        out.push(button("Run now", () => action(() => api("POST", `/schedules/${id}/trigger`, {}), "Run queued")));
      }
      if (writable) {
        out.push(confirmButton("Delete", () => action(() => api("DELETE", `/schedules/${id}`), `Deleted ${s.schedule_id}`).then(() => this.reload())));
      }
      return h("span", { class: "actions" }, out);
    };
    const columns = [
      { title: "Schedule", cell: (s) => h("span", { class: "mono" }, s.schedule_id) },
      { title: "Runs", cell: (s) => s.deployment_name ? `deployment ${s.deployment_name}` : link(href(`/flows/${encodeURIComponent(s.flow_name)}`), `${s.flow_name}${s.flow_version ? ` v${s.flow_version}` : ""}`) },
      { title: "When", cell: (s) => h("span", {}, timing(s), h("small", { class: "muted" }, ` ${s.timezone || ""}`)) },
      { title: "State", cell: (s) => yesNo(s.enabled) },
      { title: "Next run", cell: (s) => fmtTime(s.next_run_at) },
      { title: "Last run", cell: (s) => s.last_run_id ? link(href(`/runs/${encodeURIComponent(s.last_run_id)}`), fmtTime(s.last_run_at)) : "—" },
      { title: "Description", cell: (s) => h("span", { class: "description" }, s.description || "") },
      { title: "", cell: act, class: "row-actions" },
    ];
    const list = await pagedTable(columns, (token) => get("/schedules", { ...filters, limit: 50, next_token: token }), { empty: "No schedules." });
    const filterForm = form([
      { name: "flow_name", label: "Flow", value: filters.flow_name || "" },
      { name: "mode", label: "Mode", type: "select", options: [["", "any"], ...MODES.map((m) => [m, m])], value: filters.mode || "" },
      { name: "enabled", label: "State", type: "select", options: [["", "any"], ["true", "enabled"], ["false", "paused"]], value: filters.enabled || "" },
    ], async (v) => { location.hash = href("/schedules", v); }, { submit: "Filter", id: "schedule-filters", read: true });
    return [
      h("h1", {}, "Schedules"),
      filterForm,
      list,
      writable ? section("New schedule", createForm(() => this.reload())) : null,
    ];
  }
}

function createForm(done) {
  return form([
    { name: "schedule_id", label: "Schedule id", required: true, placeholder: "daily-etl" },
    { name: "flow_name", label: "Flow", placeholder: "my-flow", hint: "or a deployment below" },
    { name: "flow_version", label: "Flow version", placeholder: "latest" },
    { name: "deployment_name", label: "Deployment" },
    { name: "mode", label: "Mode", type: "select", options: MODES, value: "cron" },
    { name: "cron_expression", label: "Cron", placeholder: "0 9 * * *", hint: "cron mode: 5 fields" },
    { name: "interval_seconds", label: "Every (s)", type: "number", hint: "interval mode" },
    { name: "one_time_at", label: "At", type: "datetime", hint: "one_time mode" },
    { name: "timezone", label: "Timezone", placeholder: "UTC" },
    { name: "catchup_policy", label: "Catch-up", type: "select", options: [["", "default"], "skip", "all", "none"] },
    { name: "parameters", label: "Parameters (JSON)", type: "json", placeholder: "{}" },
    { name: "description", label: "Description" },
    { name: "enabled", label: "Enabled", type: "checkbox" },
  ], async (v) => {
    await api("POST", "/schedules", v);
    done();
  }, { submit: "Create schedule", id: "new-schedule", ok: "Schedule created" });
}

customElements.define("dagy-schedules-page", SchedulesPage);
registerPage("/schedules", "dagy-schedules-page", { title: "Schedules", nav: "Schedules", order: 60, permission: "schedules.read" });
