// Schedules: list (filters, paging), create, edit (cron, interval, timezone, parameters, active...;
// the API's validation errors shown in the form), pause, resume, trigger now, delete (docs/schedules.md).
import { api, get } from "../api.js";
import { href, registerPage } from "../app.js";
import { action, can, fmtTime, h, link, mount } from "../ui.js";
import { Page, button, confirmButton, editForm, form, pagedTable, section, yesNo } from "./kit.js";

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
    const editBox = h("div", { id: "schedule-edit" });
    const act = (s) => {
      const id = encodeURIComponent(s.schedule_id);
      const out = [];
      if (writable) {
        out.push(s.enabled
          ? button("Pause", () => action(() => api("PATCH", `/schedules/${id}`, { enabled: false }), `Paused ${s.schedule_id}`).then(() => this.reload()), { class: "pause" })
          : button("Resume", () => action(() => api("PATCH", `/schedules/${id}`, { enabled: true }), `Resumed ${s.schedule_id}`).then(() => this.reload()), { class: "resume" }));
      }
      if (writable) {
        out.push(button("Edit", async () => { mount(editBox, editSection(s, () => this.reload())); editBox.scrollIntoView(); }, { class: "edit" }));
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
      editBox,
      list,
      writable ? section("New schedule", createForm(() => this.reload())) : null,
    ];
  }
}

// The edit form of one schedule: PATCH /schedules/{id} with the fields that changed.
function editSection(s, done) {
  const timingField = s.mode === "cron"
    ? [{ name: "cron_expression", label: "Cron", value: s.cron_expression, hint: "5 fields, e.g. 0 9 * * 1-5" }]
    : s.mode === "interval"
      ? [{ name: "interval_seconds", label: "Every (s)", type: "number", value: s.interval_seconds }]
      : s.mode === "one_time" ? [{ name: "one_time_at", label: "At (ISO 8601)", value: s.one_time_at }] : [];
  const id = encodeURIComponent(s.schedule_id);
  return section(`Edit schedule ${s.schedule_id}`, editForm([
    ...timingField,
    { name: "timezone", label: "Timezone", value: s.timezone, hint: "IANA, e.g. Europe/Paris" },
    { name: "parameters", label: "Parameters (JSON)", type: "json", value: s.parameters || {} },
    { name: "enabled", label: "Active", type: "checkbox", value: s.enabled },
    { name: "catchup_policy", label: "Catch-up", type: "select", options: ["skip", "all", "none"], value: s.catchup_policy },
    { name: "description", label: "Description", value: s.description },
  ], async (changes) => {
    await api("PATCH", `/schedules/${id}`, changes);
    done();
  }, { submit: "Save schedule", id: "edit-schedule", ok: `Schedule ${s.schedule_id} saved` }));
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
