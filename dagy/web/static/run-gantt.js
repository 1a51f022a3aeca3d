// The run's Gantt timeline as SVG: one row per task run, one bar per attempt (retries are separate
// bars), and the task runs of one task with many runs (a map's children, a big fan-out) grouped
// in one row that expands.
import { fmtDuration, h, s } from "./ui.js";
import { worst } from "./run-graph.js";

const ROW = 20, LABEL = 210, GROUP_MIN = 10, SHOW = 300;
const st = (x) => String(x || "pending").toLowerCase();
const ms = (iso) => (iso ? Date.parse(iso) : NaN);

// <dagy-run-gantt>: el.render(tasks, attempts, now) where attempts: Map task_run_id -> [{n, start, end, failed}]
class RunGantt extends HTMLElement {
  connectedCallback() {
    this.open ||= new Set();
    this.shown ||= new Map();
    if (!this.box) { this.box = h("div", { class: "gantt" }); this.append(this.box); }
  }

  render(tasks, attempts = new Map(), now = Date.now()) {
    this.connectedCallback();
    this.last = [tasks, attempts, now];
    let t0 = Infinity, t1 = -Infinity;
    for (const t of tasks) {
      const a = ms(t.started_at), b = ms(t.ended_at);
      if (a < t0) t0 = a;
      if ((b || a) > t1) t1 = b || a;
      if (a && !b && st(t.status) === "running") t1 = Math.max(t1, now);
    }
    if (!isFinite(t0)) { this.box.replaceChildren(h("p", { class: "muted" }, "No task has started yet.")); return; }
    if (t1 <= t0) t1 = t0 + 1;
    const width = Math.max(600, (this.box.clientWidth || 900) - 20);
    const scale = (width - LABEL - 10) / (t1 - t0);
    const xOf = (t) => LABEL + (t - t0) * scale;

    const byName = new Map();
    for (const t of tasks) (byName.get(t.task_name) || byName.set(t.task_name, []).get(t.task_name)).push(t);
    const rows = []; // {kind: "task"|"group"|"more", ...}
    const seenGroup = new Set();
    const ordered = [...tasks].sort((a, b) => (ms(a.started_at) || Infinity) - (ms(b.started_at) || Infinity) || a.seq - b.seq);
    for (const t of ordered) {
      const list = byName.get(t.task_name);
      if (list.length < GROUP_MIN) { rows.push({ kind: "task", t }); continue; }
      if (seenGroup.has(t.task_name)) continue;
      seenGroup.add(t.task_name);
      rows.push({ kind: "group", name: t.task_name, list });
      if (this.open.has(t.task_name)) {
        const limit = this.shown.get(t.task_name) || SHOW;
        const sorted = [...list].sort((a, b) => a.seq - b.seq);
        for (const c of sorted.slice(0, limit)) rows.push({ kind: "task", t: c, child: true });
        if (sorted.length > limit) rows.push({ kind: "more", name: t.task_name, left: sorted.length - limit });
      }
    }

    const body = [];
    rows.forEach((r, i) => {
      const y = i * ROW;
      if (r.kind === "group") {
        const starts = r.list.map((t) => ms(t.started_at)).filter((x) => x);
        const ends = r.list.map((t) => ms(t.ended_at) || (st(t.status) === "running" ? now : ms(t.started_at))).filter((x) => x);
        const counts = {};
        for (const t of r.list) counts[st(t.status)] = (counts[st(t.status)] || 0) + 1;
        const summary = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ");
        const open = this.open.has(r.name);
        const g = s("g", { class: "grp", "data-group": r.name, onclick: () => this.toggle(r.name) },
          s("rect", { x: 0, y, width, height: ROW, class: "row", fill: "transparent" }),
          s("text", { x: 4, y: y + 14 }, `${open ? "▾" : "▸"} ${r.name} ×${r.list.length}`),
          s("title", {}, `${r.name}: ${r.list.length} task runs (${summary}); click to ${open ? "collapse" : "expand"}`));
        if (starts.length) {
          const a = Math.min(...starts), b = Math.max(...ends);
          g.append(s("rect", { x: xOf(a), y: y + 3, width: Math.max(2, (b - a) * scale), height: ROW - 6, class: `f-${worst(r.list.map((t) => st(t.status)))}`, stroke: "#57534e" }));
        }
        body.push(g);
        return;
      }
      if (r.kind === "more") {
        body.push(s("text", { x: 24, y: y + 14, class: "grp more", onclick: () => { this.shown.set(r.name, (this.shown.get(r.name) || SHOW) + SHOW * 3); this.render(...this.last); } }, `… ${r.left} more (show more)`));
        return;
      }
      const t = r.t;
      const g = s("g", { class: "task", "data-id": t.task_run_id },
        s("rect", { x: 0, y, width, height: ROW, class: "row", fill: "transparent" }),
        s("text", { x: r.child ? 18 : 4, y: y + 14 }, t.task_run_id.length > 28 ? t.task_run_id.slice(0, 27) + "…" : t.task_run_id));
      const a = ms(t.started_at);
      if (a) {
        const end = ms(t.ended_at) || (st(t.status) === "running" ? now : a);
        const tries = attempts.get(t.task_run_id);
        if (tries && tries.length > 1) {
          tries.forEach((at, k) => {
            const b0 = ms(at.start), b1 = ms(at.end) || (k === tries.length - 1 ? end : b0);
            const state = k < tries.length - 1 ? "failed" : st(t.status);
            g.append(s("rect", { x: xOf(b0), y: y + 4, width: Math.max(2, (b1 - b0) * scale), height: ROW - 8, class: `bar attempt f-${state}`, stroke: "#57534e", "data-attempt": at.n },
              s("title", {}, `${t.task_run_id} attempt ${at.n}: ${state}`)));
          });
        } else {
          g.append(s("rect", { x: xOf(a), y: y + 4, width: Math.max(2, (end - a) * scale), height: ROW - 8, class: `bar f-${st(t.status)}`, stroke: "#57534e" },
            s("title", {}, `${t.task_run_id}: ${st(t.status)}, ${fmtDuration(t.duration_seconds)}${t.attempt > 1 ? `, ${t.attempt} attempts` : ""}`)));
        }
      }
      g.addEventListener("click", () => this.dispatchEvent(new CustomEvent("select", { detail: t.task_run_id })));
      body.push(g);
    });
    const height = rows.length * ROW + 24;
    const axis = s("g", { class: "axis" },
      s("line", { x1: LABEL, y1: height - 20, x2: width - 10, y2: height - 20, stroke: "#a8a29e" }),
      s("text", { x: LABEL, y: height - 6 }, "0 s"),
      s("text", { x: width - 70, y: height - 6 }, fmtDuration((t1 - t0) / 1000)));
    const svg = s("svg", { width, height, class: "gantt-svg", role: "img", "aria-label": "Timeline" }, ...body, axis);
    this.box.replaceChildren(svg);
  }

  toggle(name) {
    if (this.open.has(name)) this.open.delete(name); else this.open.add(name);
    this.render(...this.last);
  }
}
customElements.define("dagy-run-gantt", RunGantt);
