// Usage and billing: this period's summary, the quota, a daily chart, costs by flow, the
// subscription and the plans (docs/billing.md). Upgrade and portal links need billing.write.
import { api, get } from "../api.js";
import { registerPage } from "../app.js";
import { action, can, fmtTime, h, s, table } from "../ui.js";
import { Page, button, section } from "./kit.js";

const stat = (label, value) => h("div", { class: "stat" }, h("span", { class: "stat-value" }, String(value ?? "—")), h("span", { class: "muted" }, label));
const usd = (v) => (v === null || v === undefined ? "—" : `$${Number(v).toFixed(2)}`);

// Daily runs as SVG bars, each with its count as a tooltip.
function bars(items) {
  if (!items.length) return h("p", { class: "muted" }, "No usage this period.");
  const max = Math.max(1, ...items.map((d) => d.run_count || 0));
  const w = 12;
  return s("svg", { class: "bars", viewBox: `0 0 ${Math.max(items.length, 31) * w} 100`, preserveAspectRatio: "none", role: "img", "aria-label": "Runs per day" },
    items.map((d, i) => {
      const hgt = Math.max(1, ((d.run_count || 0) / max) * 96);
      return s("rect", { x: i * w + 1, y: 100 - hgt, width: w - 2, height: hgt, class: "bar" }, s("title", {}, `${d.date}: ${d.run_count} runs`));
    }));
}

class UsagePage extends Page {
  async load() {
    const [summary, quota, series, costs, sub, plans] = await Promise.all([
      get("/usage/summary"), get("/usage/quota"), get("/usage/timeseries"), get("/usage/costs"),
      get("/billing/subscription").catch(() => null), get("/billing/plans"),
    ]);
    const limits = Object.keys(quota.limits || {});
    const upgrade = (plan) => action(async () => {
      const here = location.href.split("#")[0];
      const r = await api("POST", "/billing/checkout", { plan, success_url: `${here}#/usage`, cancel_url: `${here}#/usage` });
      if (r.url && /^https:\/\//.test(r.url)) location.assign(r.url);
    });
    return [
      h("h1", {}, "Usage and billing"),
      h("p", { class: "muted" }, `Period ${fmtTime(summary.period_start)} – ${fmtTime(summary.period_end)}`),
      h("div", { class: "stats" },
        stat("runs", summary.run_count), stat("tasks", summary.task_count),
        stat("compute s", Math.round(summary.compute_seconds || 0)), stat("API calls", summary.api_call_count),
        stat("errors", summary.error_count), stat("estimated", usd(summary.estimated_cost_usd))),
      section("Runs per day", bars(series.items || [])),
      section(`Quota (${quota.plan})`, table([
        { title: "Limit", cell: (k) => k },
        { title: "Used", cell: (k) => String(quota.current_usage?.[k] ?? "—") },
        { title: "Of", cell: (k) => String(quota.limits[k]) },
        { title: "%", cell: (k) => h("meter", { min: 0, max: 100, value: quota.percentages?.[k] ?? 0 }) },
      ], limits), quota.over_limit ? h("p", { class: "error" }, "Over the plan's limit.") : null),
      section("Costs by flow", table([
        { title: "Flow", cell: (f) => f.flow_name },
        { title: "Runs", cell: (f) => String(f.run_count) },
        { title: "Cost", cell: (f) => usd(f.cost_usd) },
      ], costs.by_flow || [], { empty: "No costs yet." })),
      section("Subscription", sub ? h("p", {}, `${sub.plan} · ${sub.status} · ${usd(sub.monthly_cost_usd)} a month`) : h("p", { class: "muted" }, "No subscription."),
        can("billing.write") ? button("Billing portal", () => action(async () => {
          const r = await api("POST", "/billing/portal", { return_url: `${location.href.split("#")[0]}#/usage` });
          if (r.url && /^https:\/\//.test(r.url)) location.assign(r.url);
        })) : null),
      section("Plans", table([
        { title: "Plan", cell: (p) => p.name },
        { title: "Monthly", cell: (p) => usd(p.monthly_cost_usd) },
        { title: "Runs a month", cell: (p) => String(p.limits?.monthly_runs ?? "—") },
        { title: "", class: "row-actions", cell: (p) => can("billing.write") && p.plan_id !== quota.plan ? button("Choose", () => upgrade(p.plan_id)) : null },
      ], plans.items || [])),
    ];
  }
}

customElements.define("dagy-usage-page", UsagePage);
registerPage("/usage", "dagy-usage-page", { title: "Usage and billing", nav: "Usage", order: 85, permission: "billing.read" });
