// Runs: filters (status, flow, deployment, dates, id prefix), keyset paging, live updates by polling.
import { get } from "../api.js";
import { href, registerPage, setQuery } from "../app.js";
import { badge, errorText, field, fmtDuration, fmtTime, h, mount, poll, table } from "../ui.js";

const STATUSES = ["", "queued", "running", "completed", "failed", "cancelled"];
const FILTERS = ["status", "flow_name", "deployment_name", "after", "before", "prefix"];
const POLL_MS = 2000;

// A date input's value (local midnight) as an ISO UTC time for the API.
const dayStart = (d) => (d ? new Date(`${d}T00:00:00`).toISOString() : undefined);
const dayEnd = (d) => (d ? new Date(new Date(`${d}T00:00:00`).getTime() + 86400000).toISOString() : undefined);

export function runsTable(items) {
  return table([
    { title: "Run", cell: (r) => h("a", { href: href(`/runs/${r.run_id}`), class: "mono run-link" }, r.run_id) },
    { title: "Flow", cell: (r) => r.flow_name },
    { title: "Version", cell: (r) => String(r.flow_version ?? "") },
    { title: "Status", cell: (r) => badge(r.status) },
    { title: "Created", cell: (r) => fmtTime(r.created_at) },
    { title: "Duration", cell: (r) => fmtDuration(r.duration_seconds) },
  ], items, { empty: "No runs match." });
}

class RunsPage extends HTMLElement {
  connectedCallback() {
    const q = this.query || new URLSearchParams();
    this.filters = Object.fromEntries(FILTERS.map((k) => [k, q.get(k) || ""]));
    this.tokens = [null]; // next_token of each page seen; the last one is the current page's
    const input = (name, attrs = {}) => {
      const el = h("input", { name, value: this.filters[name], ...attrs });
      el.addEventListener("change", () => this.setFilter(name, el.value));
      return el;
    };
    const status = h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s }, s || "any")));
    status.value = this.filters.status;
    status.addEventListener("change", () => this.setFilter("status", status.value));
    this.body = h("div", { class: "runs-body" }, h("p", { class: "muted" }, "Loading…"));
    this.pager = h("div", { class: "pager" });
    this.live = h("span", { class: "muted live" }, "");
    mount(this,
      h("h1", {}, "Runs"),
      h("form", { class: "toolbar", onsubmit: (e) => e.preventDefault() },
        field("Status", status),
        field("Flow", input("flow_name", { placeholder: "flow name" })),
        field("Deployment", input("deployment_name", { placeholder: "deployment" })),
        field("From", input("after", { type: "date" })),
        field("To", input("before", { type: "date" })),
        field("Run id starts with", input("prefix", { placeholder: "run_…", class: "mono" })),
        this.live),
      this.body, this.pager);
    this.load();
    this.stop = poll(() => this.load(true), POLL_MS, this);
  }

  disconnectedCallback() { this.stop?.(); }

  setFilter(name, value) {
    this.filters[name] = value;
    setQuery({ [name]: value });
    this.tokens = [null];
    this.load();
  }

  async load(quiet = false) {
    const f = this.filters;
    const seq = (this.seq = (this.seq || 0) + 1);
    try {
      const page = await get("/runs", {
        status: f.status, flow_name: f.flow_name, deployment_name: f.deployment_name,
        created_after: dayStart(f.after), created_before: dayEnd(f.before), run_id_prefix: f.prefix,
        limit: 50, next_token: this.tokens[this.tokens.length - 1],
      });
      if (seq !== this.seq) return; // a newer load has started
      const key = JSON.stringify(page.items.map((r) => [r.run_id, r.status, r.completed_at]));
      if (!quiet || key !== this.key) {
        this.key = key;
        mount(this.body, runsTable(page.items));
      }
      this.next = page.next_token;
      this.renderPager();
      this.live.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (!quiet) mount(this.body, h("p", { class: "error" }, errorText(e)));
    }
  }

  renderPager() {
    const n = this.tokens.length;
    mount(this.pager,
      h("button", { disabled: n <= 1, onclick: () => { this.tokens.pop(); this.load(); } }, "‹ Newer"),
      h("span", { class: "muted" }, `Page ${n}`),
      h("button", { disabled: !this.next, onclick: () => { this.tokens.push(this.next); this.load(); } }, "Older ›"));
  }
}

customElements.define("dagy-runs", RunsPage);
registerPage("/runs", "dagy-runs", { title: "Runs", nav: "Runs", order: 20, permission: "runs.read" });
