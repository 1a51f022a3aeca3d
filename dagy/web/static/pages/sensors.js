// Sensors: list, create (a webhook's token shown once), pause, resume, test, delete (docs/sensors.md).
import { api, get } from "../api.js";
import { href, registerPage } from "../app.js";
import { action, can, fmtTime, h, link } from "../ui.js";
import { Page, button, confirmButton, form, pagedTable, section, yesNo } from "./kit.js";

class SensorsPage extends Page {
  async load() {
    const writable = can("sensors.write");
    const id = (s) => encodeURIComponent(s.sensor_id);
    const setEnabled = (s, enabled) => action(
      () => api("PATCH", `/sensors/${id(s)}`, { enabled }), `${enabled ? "Resumed" : "Paused"} ${s.name}`,
    ).then(() => this.reload());
    const columns = [
      { title: "Name", cell: (s) => h("span", { class: "name" }, s.name) },
      { title: "Type", cell: (s) => s.sensor_type },
      { title: "Flow", cell: (s) => link(href(`/flows/${encodeURIComponent(s.flow_name)}`), s.flow_name) },
      { title: "State", cell: (s) => yesNo(s.enabled) },
      { title: "Created", cell: (s) => fmtTime(s.created_at) },
      {
        title: "", class: "row-actions",
        cell: (s) => writable ? h("span", { class: "actions" },
          s.enabled ? button("Pause", () => setEnabled(s, false), { class: "pause" }) : button("Resume", () => setEnabled(s, true), { class: "resume" }),
          button("Test", () => action(() => api("POST", `/sensors/${id(s)}/test`), "Test event sent")),
          confirmButton("Delete", () => action(() => api("DELETE", `/sensors/${id(s)}`), `Deleted ${s.name}`).then(() => this.reload())),
        ) : null,
      },
    ];
    const list = await pagedTable(columns, (token) => get("/sensors", { limit: 50, next_token: token }), { empty: "No sensors." });
    this.created = this.created || h("div", { class: "once" });
    return [
      h("h1", {}, "Sensors"),
      list,
      writable ? section("New sensor", this.created, createForm(async (answer) => {
        this.reload();
        this.created.replaceChildren(...(answer.webhook_token ? [
          h("p", {}, "The webhook token, shown this once: POST events to /v1/webhooks/<token>."),
          h("code", { class: "secret-once" }, answer.webhook_token),
        ] : []));
      })) : null,
    ];
  }
}

function createForm(done) {
  return form([
    { name: "name", label: "Name", required: true },
    { name: "sensor_type", label: "Type", type: "select", options: ["webhook", "polling", "s3"] },
    { name: "flow_name", label: "Flow", required: true },
    { name: "config_json", label: "Config (JSON)", type: "json", placeholder: '{"url": "...", "interval_seconds": 60}' },
    { name: "flow_params_json", label: "Flow parameters (JSON)", type: "json", placeholder: "{}" },
    { name: "enabled", label: "Enabled", type: "checkbox" },
  ], async (v) => done(await api("POST", "/sensors", v)), { submit: "Create sensor", id: "new-sensor", ok: "Sensor created" });
}

customElements.define("dagy-sensors-page", SensorsPage);
registerPage("/sensors", "dagy-sensors-page", { title: "Sensors", nav: "Sensors", order: 62, permission: "sensors.read" });
