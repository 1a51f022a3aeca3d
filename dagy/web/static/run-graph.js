// The run's DAG as SVG: a layered left-to-right layout computed here, pan/zoom by viewBox,
// nodes coloured by state. Big fan-outs are wrapped into columns; past MAX_NODES, task runs of
// one task (a map's children) collapse into one group node.
import { h, s } from "./ui.js";

const NW = 150, NH = 24, GX = 60, GY = 8, WRAP = 40, MAX_NODES = 600, GROUP_MIN = 20;
const st = (x) => String(x || "pending").toLowerCase();
const RANK = { failed: 6, crashed: 6, running: 5, retrying: 4, awaiting_retry: 4, cancelling: 3, cancelled: 3, pending: 2, scheduled: 2, queued: 2, skipped: 1, succeeded: 0, completed: 0 };
// The state a group shows: its "worst" member's.
export const worst = (states) => states.reduce((a, b) => ((RANK[b] ?? 2) > (RANK[a] ?? 2) ? b : a), "succeeded");

// Nodes and edges to draw: one per task run, or groups for task names with many runs.
export function graphModel(tasks, edges) {
  let nodes = tasks.map((t) => ({ id: t.task_run_id, label: t.task_run_id, state: st(t.status), seq: t.seq, members: [t] }));
  let owner = new Map(nodes.map((n) => [n.id, n.id]));
  if (nodes.length > MAX_NODES) {
    const byName = new Map();
    for (const t of tasks) (byName.get(t.task_name) || byName.set(t.task_name, []).get(t.task_name)).push(t);
    nodes = [];
    owner = new Map();
    for (const [name, list] of byName) {
      if (list.length >= GROUP_MIN) {
        const id = `group:${name}`;
        nodes.push({ id, label: `${name} ×${list.length}`, state: worst(list.map((t) => st(t.status))), seq: list[0].seq, members: list, group: true });
        list.forEach((t) => owner.set(t.task_run_id, id));
      } else {
        for (const t of list) { nodes.push({ id: t.task_run_id, label: t.task_run_id, state: st(t.status), seq: t.seq, members: [t] }); owner.set(t.task_run_id, t.task_run_id); }
      }
    }
  }
  const seen = new Set();
  const links = [];
  for (const [a, b] of edges || []) {
    const u = owner.get(a), v = owner.get(b);
    if (!u || !v || u === v) continue;
    const k = `${u}\u0000${v}`;
    if (!seen.has(k)) { seen.add(k); links.push([u, v]); }
  }
  return { nodes, links, owner };
}

// Layers by longest path from the sources; order in a layer by the mean position of parents.
export function layout(nodes, links) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const parents = new Map(nodes.map((n) => [n.id, []]));
  const children = new Map(nodes.map((n) => [n.id, []]));
  const indeg = new Map(nodes.map((n) => [n.id, 0]));
  for (const [u, v] of links) { children.get(u).push(v); parents.get(v).push(u); indeg.set(v, indeg.get(v) + 1); }
  const layer = new Map();
  const queue = nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id);
  for (const id of queue) layer.set(id, 0);
  for (let i = 0; i < queue.length; i++) {
    const u = queue[i];
    for (const v of children.get(u)) {
      layer.set(v, Math.max(layer.get(v) ?? 0, layer.get(u) + 1));
      indeg.set(v, indeg.get(v) - 1);
      if (indeg.get(v) === 0) queue.push(v);
    }
  }
  for (const n of nodes) if (!layer.has(n.id)) layer.set(n.id, 0); // a cycle: should not happen
  const layers = [];
  for (const n of nodes) (layers[layer.get(n.id)] ||= []).push(n);
  const pos = new Map();
  let x = 0, height = 0;
  layers.forEach((list, li) => {
    if (li === 0) list.sort((a, b) => a.seq - b.seq);
    else {
      const bary = (n) => { const ps = parents.get(n.id); return ps.length ? ps.reduce((s, p) => s + pos.get(p).order, 0) / ps.length : 1e9; };
      list.forEach((n) => (n._b = bary(n)));
      list.sort((a, b) => a._b - b._b || a.seq - b.seq);
    }
    const cols = Math.ceil(list.length / WRAP);
    list.forEach((n, i) => {
      const col = Math.floor(i / WRAP), row = i % WRAP;
      pos.set(n.id, { x: x + col * (NW + 16), y: row * (NH + GY), order: i });
    });
    height = Math.max(height, Math.min(list.length, WRAP) * (NH + GY));
    x += cols * (NW + 16) - 16 + GX;
  });
  // centre each layer's column(s) vertically
  for (const list of layers) {
    const rows = Math.min(list.length, WRAP) * (NH + GY);
    const dy = (height - rows) / 2;
    for (const n of list) pos.get(n.id).y += dy;
  }
  return { pos, width: Math.max(x - GX, NW), height: Math.max(height, NH), byId };
}

// <dagy-run-graph>: el.render(tasks, edges), el.update(tasks); fires "select" {detail: task_run_id}.
class RunGraph extends HTMLElement {
  connectedCallback() {
    if (this.svg) return;
    this.svg = s("svg", { class: "graph", role: "img", "aria-label": "Run graph" });
    this.view = s("g", {});
    this.svg.append(this.view);
    this.append(h("div", { class: "toolbar" },
      h("button", { onclick: () => this.fit() }, "Fit"),
      h("button", { onclick: () => this.zoom(0.8) }, "+"),
      h("button", { onclick: () => this.zoom(1.25) }, "−"),
      h("span", { class: "muted graph-count" }, "")), this.svg);
    this.bindPanZoom();
  }

  render(tasks, edges) {
    const { nodes, links, owner } = graphModel(tasks, edges);
    const { pos, width, height } = layout(nodes, links);
    this.owner = owner;
    this.bounds = { width, height };
    this.rects = new Map();
    this.nodesById = new Map(nodes.map((n) => [n.id, n]));
    const edgeG = s("g", { class: "edges" });
    const parts = [];
    for (const [u, v] of links) {
      const a = pos.get(u), b = pos.get(v);
      const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2, mx = (x1 + x2) / 2;
      parts.push(`M${x1},${y1}C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
    }
    // one path element for all edges: 500 nodes and their edges stay cheap to draw and pan
    if (parts.length) edgeG.append(s("path", { class: "edge", d: parts.join("") }));
    const nodeG = s("g", { class: "nodes" });
    for (const n of nodes) {
      const p = pos.get(n.id);
      const rect = s("rect", { width: NW, height: NH, class: `f-${n.state}` });
      const label = n.label.length > 22 ? n.label.slice(0, 21) + "…" : n.label;
      const g = s("g", { class: "node", transform: `translate(${p.x},${p.y})`, "data-id": n.id, "data-state": n.state },
        rect, s("text", { x: 6, y: 16 }, label), s("title", {}, `${n.label}: ${n.state}`));
      this.rects.set(n.id, { g, rect });
      nodeG.append(g);
    }
    this.view.replaceChildren(edgeG, nodeG);
    this.querySelector(".graph-count").textContent = `${tasks.length} task runs · ${nodes.length} nodes`;
    this.fit();
  }

  update(tasks) {
    if (!this.rects) return;
    const states = new Map();
    for (const t of tasks) {
      const id = this.owner.get(t.task_run_id);
      if (id) (states.get(id) || states.set(id, []).get(id)).push(st(t.status));
    }
    for (const [id, list] of states) {
      const r = this.rects.get(id);
      const state = list.length > 1 ? worst(list) : list[0];
      if (r && r.g.dataset.state !== state) { r.g.dataset.state = state; r.rect.setAttribute("class", `f-${state}`); }
    }
  }

  select(id) {
    for (const { g } of this.rects?.values() || []) g.classList.toggle("sel", g.dataset.id === id);
  }

  setView(x, y, w, hgt) {
    this.vb = { x, y, w, h: hgt };
    this.svg.setAttribute("viewBox", `${x} ${y} ${w} ${hgt}`);
  }

  fit() {
    const { width, height } = this.bounds || { width: 100, height: 100 };
    const r = this.svg.getBoundingClientRect();
    const aspect = (r.width || 800) / (r.height || 400);
    let w = width + 40, hh = height + 40;
    if (w / hh < aspect) w = hh * aspect; else hh = w / aspect;
    this.setView(-20 - (w - width - 40) / 2, -20 - (hh - height - 40) / 2, w, hh);
  }

  zoom(f, cx, cy) {
    const v = this.vb;
    if (!v) return;
    cx ??= v.x + v.w / 2; cy ??= v.y + v.h / 2;
    this.setView(cx - (cx - v.x) * f, cy - (cy - v.y) * f, v.w * f, v.h * f);
  }

  bindPanZoom() {
    const svg = this.svg;
    const toUser = (ev) => {
      const r = svg.getBoundingClientRect();
      return [this.vb.x + ((ev.clientX - r.left) / r.width) * this.vb.w, this.vb.y + ((ev.clientY - r.top) / r.height) * this.vb.h];
    };
    svg.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const [cx, cy] = toUser(ev);
      this.zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, cx, cy);
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (ev) => {
      drag = { x: ev.clientX, y: ev.clientY, vb: { ...this.vb }, moved: false };
    });
    svg.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      const r = svg.getBoundingClientRect();
      const dx = ((ev.clientX - drag.x) / r.width) * drag.vb.w, dy = ((ev.clientY - drag.y) / r.height) * drag.vb.h;
      if (Math.abs(ev.clientX - drag.x) + Math.abs(ev.clientY - drag.y) > 3) {
        if (!drag.moved) svg.setPointerCapture(ev.pointerId);
        drag.moved = true;
      }
      if (drag.moved) this.setView(drag.vb.x - dx, drag.vb.y - dy, drag.vb.w, drag.vb.h);
    });
    svg.addEventListener("pointerup", (ev) => {
      const was = drag;
      drag = null;
      if (was?.moved) return;
      const node = ev.target.closest?.(".node");
      if (!node) return;
      const n = this.nodesById.get(node.dataset.id);
      const id = n?.group ? n.members[0].task_run_id : node.dataset.id;
      this.select(node.dataset.id);
      this.dispatchEvent(new CustomEvent("select", { detail: id }));
    });
  }
}
customElements.define("dagy-run-graph", RunGraph);
