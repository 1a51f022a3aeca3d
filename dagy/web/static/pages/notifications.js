// Notification channels and alert rules: list, create, delete; test a rule (docs/notifications.md).
import { api, get } from "../api.js";
import { registerPage } from "../app.js";
import { action, can, fmtTime, h, table, toast } from "../ui.js";
import { Page, button, confirmButton, form, section, yesNo } from "./kit.js";

const TYPES = ["webhook", "slack", "email", "pagerduty"];
const TRIGGERS = ["on_failure", "on_success", "on_sla_breach", "on_retry"];

class NotificationsPage extends Page {
  async load() {
    const writable = can("notifications.write");
    const [channels, rules] = await Promise.all([get("/channels"), get("/alert-rules")]);
    const names = Object.fromEntries((channels.items || []).map((c) => [c.channel_id, c.name]));
    const del = (path, label) => confirmButton("Delete", () => action(() => api("DELETE", path), `Deleted ${label}`).then(() => this.reload()));
    const channelColumns = [
      { title: "Channel", cell: (c) => h("span", { class: "name" }, c.name) },
      { title: "Type", cell: (c) => c.channel_type },
      { title: "State", cell: (c) => yesNo(c.enabled) },
      { title: "Created", cell: (c) => fmtTime(c.created_at) },
      { title: "", class: "row-actions", cell: (c) => writable ? del(`/channels/${encodeURIComponent(c.channel_id)}`, c.name) : null },
    ];
    const ruleColumns = [
      { title: "Rule", cell: (r) => h("span", { class: "name" }, r.name) },
      { title: "Trigger", cell: (r) => r.trigger },
      { title: "Flow", cell: (r) => r.flow_name || "any" },
      { title: "Channels", cell: (r) => (r.channel_ids || []).map((id) => names[id] || id).join(", ") },
      { title: "State", cell: (r) => yesNo(r.enabled) },
      {
        title: "", class: "row-actions",
        cell: (r) => writable ? h("span", { class: "actions" },
          button("Test", () => action(async () => (await api("POST", `/alert-rules/${encodeURIComponent(r.rule_id)}/test`)).message || "Sent")
            .then((m) => toast(m, "ok"))),
          del(`/alert-rules/${encodeURIComponent(r.rule_id)}`, r.name)) : null,
      },
    ];
    return [
      h("h1", {}, "Notifications"),
      section("Channels", table(channelColumns, channels.items || [], { empty: "No channels." }),
        writable ? form([
          { name: "name", label: "Name", required: true },
          { name: "channel_type", label: "Type", type: "select", options: TYPES },
          { name: "config_json", label: "Config (JSON)", type: "json", required: true, placeholder: '{"url": "https://..."}' },
          { name: "enabled", label: "Enabled", type: "checkbox" },
        ], async (v) => { await api("POST", "/channels", v); this.reload(); }, { submit: "Create channel", id: "new-channel", ok: "Channel created" }) : null),
      section("Alert rules", table(ruleColumns, rules.items || [], { empty: "No alert rules." }),
        writable ? form([
          { name: "name", label: "Name", required: true },
          { name: "trigger", label: "Trigger", type: "select", options: TRIGGERS },
          { name: "channel_ids", label: "Channels", type: "select", options: (channels.items || []).map((c) => [c.channel_id, c.name]) },
          { name: "flow_name", label: "Flow", placeholder: "(any)" },
          { name: "sla_seconds", label: "SLA (s)", type: "number", hint: "on_sla_breach" },
          { name: "enabled", label: "Enabled", type: "checkbox" },
        ], async (v) => {
          await api("POST", "/alert-rules", { ...v, channel_ids: v.channel_ids ? [v.channel_ids] : [] });
          this.reload();
        }, { submit: "Create rule", id: "new-rule", ok: "Rule created" }) : null),
    ];
  }
}

customElements.define("dagy-notifications-page", NotificationsPage);
registerPage("/notifications", "dagy-notifications-page", { title: "Notifications", nav: "Alerts", order: 74, permission: "notifications.read" });
