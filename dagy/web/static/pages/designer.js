// The flow designer: a palette from /v1/nodes/registry, an SVG canvas (nodes dragged with pointer
// events, connectors joined with live /v1/nodes/validate-connection feedback), a config form from
// each node's config_schema, and save / deploy / run of the canvas as a DAG draft.
// Every string from data is rendered with textContent or as an attribute value, never as HTML.

import { api } from "../api.js";
import { href, navigate, registerPage, setQuery } from "../app.js";
import { can } from "../ui.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 190;
const PORT_Y0 = 44;
const PORT_DY = 22;
const TERMINAL = new Set(["completed", "succeeded", "failed", "cancelled", "upstream_failed"]);

// -- small text-only element helpers (exported for studio.js) --------------------------------------

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  setProps(node, props);
  append(node, children);
  return node;
}

function svg(tag, props, ...children) {
  const node = document.createElementNS(SVG, tag);
  setProps(node, props);
  append(node, children);
  return node;
}

function setProps(node, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.setAttribute("class", value);
    } else if (key === "text") {
      node.textContent = String(value);
    } else if (key === "value" || key === "checked") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function errorText(err) {
  const body = err && (err.body || err.data || err);
  const message = (body && body.message) || (err && err.message) || String(err);
  const code = body && body.error ? `${body.error}: ` : "";
  return code + message;
}

export function errorDetails(err) {
  const body = err && (err.body || err.data || err);
  const details = (body && body.details) || (err && err.details) || {};
  return Array.isArray(details.errors) ? details.errors : [];
}

export function ensureStyles(href) {
  if (document.querySelector(`link[data-page-css="${href}"]`)) return;
  const link = el("link", { rel: "stylesheet", href, "data-page-css": href });
  document.head.append(link);
}

// -- the canvas model --------------------------------------------------------------------------------

function defaultHandle(def, direction, preferred) {
  const ports = (def ? def.connectors : []).filter((c) => c.direction === direction);
  if (ports.some((c) => c.id === preferred)) return preferred;
  return ports.length ? ports[0].id : preferred;
}

function fieldValueFromInput(field, input) {
  const type = field.type;
  if (type === "boolean") return input.checked;
  const raw = input.value;
  if (raw === "") return undefined;
  if (type === "integer" || type === "number") {
    const num = Number(raw);
    if (raw.includes("${")) return raw;
    if (Number.isNaN(num)) throw new Error("must be a number");
    if (type === "integer" && !Number.isInteger(num)) throw new Error("must be an integer");
    return num;
  }
  if (type === "object" || type === "json") {
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error("must be valid JSON");
    }
  }
  if (type === "array") {
    const text = raw.trim();
    if (text.startsWith("[")) {
      try {
        return JSON.parse(text);
      } catch {
        throw new Error("must be a JSON array or a comma-separated list");
      }
    }
    return text
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return raw;
}

function fieldDisplay(field, value) {
  if (value === undefined || value === null) return "";
  if (field.type === "object" || field.type === "json") return JSON.stringify(value, null, 2);
  if (field.type === "array") {
    if (Array.isArray(value) && value.every((v) => typeof v === "string" && !v.includes(","))) {
      return value.join(", ");
    }
    return JSON.stringify(value);
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// -- the page ----------------------------------------------------------------------------------------

export class DesignerPage extends HTMLElement {
  connectedCallback() {
    ensureStyles(new URL("./designer.css", import.meta.url).pathname);
    this.classList.add("dz");
    this.registry = new Map();
    this.nodes = new Map();
    this.edges = [];
    this.canvasParams = {};
    this.draft = { draft_id: null, name: "Untitled pipeline", flow_name: "", description: "" };
    this.problems = [];
    this.selected = null;
    this.view = { x: 40, y: 40, k: 1 };
    this.validations = new Map();
    this.deployment = null;
    this.render();
    this.load().catch((err) => this.say(errorText(err), "error"));
  }

  disconnectedCallback() {
    this.stopped = true;
    clearTimeout(this.pollTimer);
  }

  routeParams() {
    // The router sets el.params ({draft_id}) and el.query (URLSearchParams) before connecting.
    const params = this.params || {};
    const query = this.query instanceof URLSearchParams ? this.query : new URLSearchParams();
    return {
      draft: params.draft_id || query.get("draft"),
      session: query.get("session"),
    };
  }

  async load() {
    const registry = await api("GET", "/nodes/registry");
    for (const item of registry.items || []) this.registry.set(item.node_type, item);
    let categories = [];
    try {
      categories = (await api("GET", "/nodes/registry/categories")).categories || [];
    } catch {
      categories = [];
    }
    this.categories = categories;
    this.renderPalette();
    const { draft, session } = this.routeParams();
    if (draft) await this.openDraft(draft);
    else if (session) await this.openSession(session);
    await this.listDrafts().catch(() => {});
    this.renderAll();
    if (this.nodes.size) this.fit();
  }

  async listDrafts() {
    const answer = await api("GET", "/dag-drafts", undefined, { query: { limit: 100 } });
    const current = this.draft.draft_id || "";
    this.draftSelect.textContent = "";
    this.draftSelect.append(el("option", { value: "" }, "Open a draft…"));
    for (const item of answer.items || []) {
      this.draftSelect.append(el("option", { value: item.draft_id }, item.name || item.draft_id));
    }
    this.draftSelect.value = current;
  }

  reset() {
    this.draft = { draft_id: null, name: "Untitled pipeline", flow_name: "", description: "" };
    this.loadCanvas({});
    this.problems = [];
    this.selected = null;
    this.deployment = null;
    this.runLink.textContent = "";
    setQuery({ draft: null, session: null });
    this.renderAll();
    this.say("New pipeline");
  }

  async openDraft(draftId) {
    const body = await api("GET", `/dag-drafts/${encodeURIComponent(draftId)}`);
    this.draft = {
      draft_id: body.draft_id,
      name: body.name,
      flow_name: body.flow_name || "",
      description: body.description || "",
    };
    this.loadCanvas(body.canvas_json || {});
    this.problems = (body.validation && body.validation.errors) || [];
    this.say(`Opened draft ${body.name}`);
  }

  async openSession(sessionId) {
    const body = await api("GET", `/ai-studio/sessions/${encodeURIComponent(sessionId)}`);
    this.draft = {
      draft_id: body.draft_id || null,
      name: body.title || "AI studio pipeline",
      flow_name: body.flow_name || "",
      description: "",
    };
    if (body.draft_id) {
      this.draft.draft_id = null; // a new draft of this canvas; the session's own stays its own
    }
    this.loadCanvas(body.canvas_state || {});
    this.problems = (body.validation && body.validation.errors) || [];
    this.say(`Opened the canvas of AI studio session ${body.title || body.session_id}`);
  }

  loadCanvas(canvas) {
    this.nodes = new Map();
    this.edges = [];
    this.canvasParams = canvas.params && typeof canvas.params === "object" ? { ...canvas.params } : {};
    for (const node of canvas.nodes || []) {
      let pos = node.position;
      if (pos && !Array.isArray(pos)) pos = [pos.x || 0, pos.y || 0];
      this.nodes.set(node.id, { ...node, position: pos || [0, 0], data: { ...(node.data || {}) } });
    }
    for (const edge of canvas.edges || []) {
      const src = this.nodes.get(edge.source);
      const tgt = this.nodes.get(edge.target);
      const e = { ...edge };
      e.source_handle =
        edge.source_handle ||
        edge.sourceHandle ||
        defaultHandle(src && this.registry.get(src.type), "outbound", "data_out");
      e.target_handle =
        edge.target_handle ||
        edge.targetHandle ||
        defaultHandle(tgt && this.registry.get(tgt.type), "inbound", "data_in");
      delete e.sourceHandle;
      delete e.targetHandle;
      this.edges.push(e);
    }
  }

  canvasJson() {
    const nodes = [...this.nodes.values()].map((n) => ({
      ...n,
      position: [Math.round(n.position[0]), Math.round(n.position[1])],
    }));
    return { params: this.canvasParams, nodes, edges: this.edges.map((e) => ({ ...e })) };
  }

  // -- layout --------------------------------------------------------------------------------------

  render() {
    this.textContent = "";
    this.status = el("div", { class: "dz-status", role: "status", "aria-live": "polite" });
    this.nameInput = el("input", {
      class: "dz-name",
      "aria-label": "Draft name",
      placeholder: "Draft name",
      oninput: () => {
        this.draft.name = this.nameInput.value;
      },
    });
    this.flowInput = el("input", {
      class: "dz-flow",
      "aria-label": "Flow name",
      placeholder: "flow name (for deploy)",
      oninput: () => {
        this.draft.flow_name = this.flowInput.value.trim();
      },
    });
    this.runLink = el("span", { class: "dz-run" });
    this.draftSelect = el("select", { class: "dz-drafts", "aria-label": "Open a draft" });
    this.draftSelect.addEventListener("change", () => {
      if (this.draftSelect.value) navigate("/designer", { draft: this.draftSelect.value });
    });
    const toolbar = el(
      "div",
      { class: "dz-toolbar" },
      this.draftSelect,
      el("button", { type: "button", class: "dz-new", onclick: () => this.reset() }, "New"),
      el("label", {}, "Name ", this.nameInput),
      el("label", {}, "Flow ", this.flowInput),
      can("flows.write") ? el("button", { type: "button", class: "dz-save", onclick: () => this.save() }, "Save") : null,
      can("flows.write")
        ? el("button", { type: "button", class: "dz-deploy", onclick: () => this.deploy() }, "Deploy")
        : null,
      can("flows.write") && can("runs.trigger")
        ? el("button", { type: "button", class: "dz-run-btn", onclick: () => this.run() }, "Run")
        : null,
      el("button", { type: "button", class: "dz-fit", onclick: () => this.fit() }, "Fit"),
      this.runLink,
    );
    this.search = el("input", {
      type: "search",
      class: "dz-search",
      placeholder: "Search nodes",
      "aria-label": "Search nodes",
      oninput: () => this.renderPalette(),
    });
    this.paletteList = el("div", { class: "dz-palette-list" });
    const palette = el("aside", { class: "dz-palette" }, this.search, this.paletteList);

    this.edgeLayer = svg("g", { class: "dz-edges" });
    this.nodeLayer = svg("g", { class: "dz-nodes" });
    this.tempLayer = svg("g", { class: "dz-temp" });
    this.viewport = svg("g", { class: "dz-view" }, this.edgeLayer, this.nodeLayer, this.tempLayer);
    this.svg = svg("svg", { class: "dz-canvas", "aria-label": "Canvas" }, this.viewport);
    this.svg.addEventListener("pointerdown", (ev) => this.onCanvasDown(ev));
    this.svg.addEventListener("wheel", (ev) => this.onWheel(ev), { passive: false });
    this.hint = el("div", { class: "dz-hint", role: "status" });
    const canvasWrap = el("section", { class: "dz-canvas-wrap" }, this.svg, this.hint);

    this.inspector = el("aside", { class: "dz-inspector" });
    this.problemList = el("ul", { class: "dz-problems" });
    this.append(
      toolbar,
      this.status,
      el("div", { class: "dz-body" }, palette, canvasWrap, this.inspector),
      el("section", { class: "dz-validation" }, el("h3", {}, "Validation"), this.problemList),
    );
    this.addEventListener("keydown", (ev) => {
      const tag = (ev.target.tagName || "").toLowerCase();
      if ((ev.key === "Delete" || ev.key === "Backspace") && !["input", "textarea", "select"].includes(tag)) {
        this.removeSelected();
      }
    });
    this.tabIndex = -1;
  }

  renderAll() {
    this.nameInput.value = this.draft.name || "";
    this.flowInput.value = this.draft.flow_name || "";
    this.renderCanvas();
    this.renderInspector();
    this.renderProblems();
  }

  say(message, kind = "info") {
    this.status.textContent = message;
    this.status.dataset.kind = kind;
  }

  // -- palette -------------------------------------------------------------------------------------

  renderPalette() {
    if (!this.paletteList) return;
    const words = (this.search.value || "").toLowerCase().split(/\s+/).filter(Boolean);
    const match = (def) => {
      const hay = [def.node_type, def.label, def.description, ...(def.tags || [])].join(" ").toLowerCase();
      return words.every((w) => hay.includes(w));
    };
    const cats = this.categories && this.categories.length ? this.categories : [];
    const known = new Set(cats.map((c) => c.id));
    const groups = cats.map((c) => ({ id: c.id, label: c.label, items: [] }));
    const other = { id: "other", label: "Other", items: [] };
    for (const def of this.registry.values()) {
      if (!match(def)) continue;
      const group = known.has(def.category) ? groups.find((g) => g.id === def.category) : other;
      group.items.push(def);
    }
    if (other.items.length) groups.push(other);
    this.paletteList.textContent = "";
    for (const group of groups) {
      if (!group.items.length) continue;
      const list = el("ul", { class: "dz-palette-items" });
      for (const def of group.items) {
        const item = el(
          "li",
          {
            class: `dz-palette-item dz-color-${String(def.color || "grey").replace(/[^a-z]/g, "")}`,
            "data-node-type": def.node_type,
            title: def.description || "",
            tabindex: "0",
          },
          el("span", { class: "dz-palette-label" }, def.label || def.node_type),
          def.executable === false ? el("span", { class: "dz-badge" }, "not here") : null,
        );
        item.addEventListener("pointerdown", (ev) => this.startPaletteDrag(ev, def));
        item.addEventListener("keydown", (ev) => {
          if (ev.key === "Enter") this.addNode(def, this.centerPoint());
        });
        list.append(item);
      }
      this.paletteList.append(
        el("section", { class: "dz-category", "data-category": group.id }, el("h4", {}, group.label), list),
      );
    }
  }

  startPaletteDrag(ev, def) {
    if (ev.button !== 0) return;
    ev.preventDefault();
    const ghost = el("div", { class: "dz-ghost" }, def.label || def.node_type);
    document.body.append(ghost);
    const place = (e) => {
      ghost.style.left = `${e.clientX + 4}px`;
      ghost.style.top = `${e.clientY + 4}px`;
    };
    place(ev);
    const move = (e) => place(e);
    const up = (e) => {
      document.removeEventListener("pointermove", move);
      document.removeEventListener("pointerup", up);
      ghost.remove();
      const rect = this.svg.getBoundingClientRect();
      if (e.clientX >= rect.left && e.clientX <= rect.right && e.clientY >= rect.top && e.clientY <= rect.bottom) {
        const [x, y] = this.toCanvas(e.clientX, e.clientY);
        this.addNode(def, [x - NODE_W / 2, y - 16]);
      }
    };
    document.addEventListener("pointermove", move);
    document.addEventListener("pointerup", up);
  }

  centerPoint() {
    const rect = this.svg.getBoundingClientRect();
    return this.toCanvas(rect.left + rect.width / 2, rect.top + rect.height / 2);
  }

  toCanvas(clientX, clientY) {
    const rect = this.svg.getBoundingClientRect();
    return [(clientX - rect.left - this.view.x) / this.view.k, (clientY - rect.top - this.view.y) / this.view.k];
  }

  addNode(def, position) {
    const base = def.node_type.replace(/[^A-Za-z0-9_]/g, "_").replace(/^([^A-Za-z_])/, "_$1");
    let n = 1;
    while (this.nodes.has(`${base}_${n}`)) n += 1;
    const id = `${base}_${n}`;
    const data = {};
    for (const field of def.config_schema || []) {
      if (field.default !== undefined) data[field.name] = field.default;
    }
    this.nodes.set(id, { id, type: def.node_type, position, data });
    this.selected = { kind: "node", id };
    this.renderCanvas();
    this.renderInspector();
    this.say(`Added ${def.label || def.node_type} as ${id}`);
  }

  // -- canvas --------------------------------------------------------------------------------------

  nodeHeight(node) {
    const def = this.registry.get(node.type);
    const ports = def ? def.connectors : [];
    const ins = ports.filter((c) => c.direction === "inbound").length;
    const outs = ports.filter((c) => c.direction === "outbound").length;
    return PORT_Y0 + Math.max(ins, outs, 1) * PORT_DY;
  }

  portPoint(nodeId, connectorId, direction) {
    const node = this.nodes.get(nodeId);
    if (!node) return [0, 0];
    const def = this.registry.get(node.type);
    const ports = (def ? def.connectors : []).filter((c) => c.direction === direction);
    const index = Math.max(0, ports.findIndex((c) => c.id === connectorId));
    const x = node.position[0] + (direction === "inbound" ? 0 : NODE_W);
    return [x, node.position[1] + PORT_Y0 + index * PORT_DY - 6];
  }

  problemsOf(nodeId) {
    return this.problems.filter(
      (p) => p.node === nodeId || (p.path || "").startsWith(`nodes.${nodeId}.`) || p.path === `nodes.${nodeId}`,
    );
  }

  renderCanvas() {
    this.viewport.setAttribute("transform", `translate(${this.view.x} ${this.view.y}) scale(${this.view.k})`);
    this.nodeLayer.textContent = "";
    for (const node of this.nodes.values()) this.nodeLayer.append(this.drawNode(node));
    this.renderEdges();
  }

  drawNode(node) {
    const def = this.registry.get(node.type);
    const height = this.nodeHeight(node);
    const problems = this.problemsOf(node.id);
    const selected = this.selected && this.selected.kind === "node" && this.selected.id === node.id;
    const classes = ["dz-node", `dz-color-${String((def && def.color) || "grey").replace(/[^a-z]/g, "")}`];
    if (selected) classes.push("dz-selected");
    if (problems.length) classes.push("dz-invalid");
    if (!def) classes.push("dz-unknown");
    const g = svg("g", {
      class: classes.join(" "),
      "data-node-id": node.id,
      "data-node-type": node.type,
      transform: `translate(${node.position[0]} ${node.position[1]})`,
    });
    g.append(
      svg("rect", { class: "dz-node-box", width: NODE_W, height, rx: 8 }),
      svg("rect", { class: "dz-node-head", width: NODE_W, height: 26, rx: 8 }),
      svg("text", { class: "dz-node-title", x: 10, y: 17 }, node.label || (def && def.label) || node.type),
      svg("text", { class: "dz-node-id", x: 10, y: 38 }, node.id),
    );
    if (problems.length) {
      g.append(
        svg(
          "g",
          { class: "dz-node-error" },
          svg("circle", { cx: NODE_W - 12, cy: 13, r: 8 }),
          svg("text", { x: NODE_W - 12, y: 17, "text-anchor": "middle" }, "!"),
          svg("title", {}, problems.map((p) => p.message).join("\n")),
        ),
      );
    }
    const ports = def ? def.connectors : [];
    for (const direction of ["inbound", "outbound"]) {
      ports
        .filter((c) => c.direction === direction)
        .forEach((c, i) => {
          const x = direction === "inbound" ? 0 : NODE_W;
          const y = PORT_Y0 + i * PORT_DY - 6;
          g.append(
            svg(
              "text",
              {
                class: "dz-port-label",
                x: direction === "inbound" ? 10 : NODE_W - 10,
                y: y + 4,
                "text-anchor": direction === "inbound" ? "start" : "end",
              },
              c.name || c.id,
            ),
            svg(
              "circle",
              {
                class: `dz-port dz-port-${direction === "inbound" ? "in" : "out"}`,
                cx: x,
                cy: y,
                r: 7,
                "data-node-id": node.id,
                "data-connector": c.id,
                "data-direction": direction,
              },
              svg("title", {}, `${c.name || c.id} (${(c.data_types || []).join(", ")})`),
            ),
          );
        });
    }
    g.addEventListener("pointerdown", (ev) => this.onNodeDown(ev, node.id));
    return g;
  }

  renderEdges() {
    this.edgeLayer.textContent = "";
    for (const edge of this.edges) {
      const [x1, y1] = this.portPoint(edge.source, edge.source_handle, "outbound");
      const [x2, y2] = this.portPoint(edge.target, edge.target_handle, "inbound");
      const bad = this.problems.some((p) => p.path === `edges.${edge.id}` || (p.path || "").startsWith(`edges.${edge.id}.`));
      const selected = this.selected && this.selected.kind === "edge" && this.selected.id === edge.id;
      const classes = ["dz-edge"];
      if (bad) classes.push("dz-invalid");
      if (selected) classes.push("dz-selected");
      const d = this.curve(x1, y1, x2, y2);
      const group = svg(
        "g",
        { class: classes.join(" "), "data-edge-id": edge.id, "data-source": edge.source, "data-target": edge.target },
        svg("path", { class: "dz-edge-hit", d }),
        svg("path", { class: "dz-edge-line", d }),
      );
      group.addEventListener("pointerdown", (ev) => {
        ev.stopPropagation();
        this.selected = { kind: "edge", id: edge.id };
        this.renderEdges();
        this.renderInspector();
      });
      this.edgeLayer.append(group);
    }
  }

  curve(x1, y1, x2, y2) {
    const dx = Math.max(40, Math.abs(x2 - x1) / 2);
    return `M ${x1} ${y1} C ${x1 + dx} ${y1}, ${x2 - dx} ${y2}, ${x2} ${y2}`;
  }

  onCanvasDown(ev) {
    if (ev.button !== 0 || ev.target.closest(".dz-node, .dz-edge")) return;
    this.selected = null;
    this.renderCanvas();
    this.renderInspector();
    const start = { x: ev.clientX, y: ev.clientY, vx: this.view.x, vy: this.view.y };
    const move = (e) => {
      this.view.x = start.vx + e.clientX - start.x;
      this.view.y = start.vy + e.clientY - start.y;
      this.viewport.setAttribute("transform", `translate(${this.view.x} ${this.view.y}) scale(${this.view.k})`);
    };
    const up = () => {
      document.removeEventListener("pointermove", move);
      document.removeEventListener("pointerup", up);
    };
    document.addEventListener("pointermove", move);
    document.addEventListener("pointerup", up);
  }

  onWheel(ev) {
    ev.preventDefault();
    const rect = this.svg.getBoundingClientRect();
    const px = ev.clientX - rect.left;
    const py = ev.clientY - rect.top;
    const k = Math.min(2.5, Math.max(0.2, this.view.k * (ev.deltaY < 0 ? 1.1 : 1 / 1.1)));
    this.view.x = px - ((px - this.view.x) * k) / this.view.k;
    this.view.y = py - ((py - this.view.y) * k) / this.view.k;
    this.view.k = k;
    this.viewport.setAttribute("transform", `translate(${this.view.x} ${this.view.y}) scale(${this.view.k})`);
  }

  fit() {
    if (!this.nodes.size) return;
    const rect = this.svg.getBoundingClientRect();
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const n of this.nodes.values()) {
      minX = Math.min(minX, n.position[0]);
      minY = Math.min(minY, n.position[1]);
      maxX = Math.max(maxX, n.position[0] + NODE_W);
      maxY = Math.max(maxY, n.position[1] + this.nodeHeight(n));
    }
    if (!rect.width || !rect.height) return;
    const k = Math.min(1.2, Math.max(0.2, Math.min((rect.width - 60) / (maxX - minX), (rect.height - 60) / (maxY - minY))));
    this.view = { k, x: 30 - minX * k, y: 30 - minY * k };
    this.renderCanvas();
  }

  onNodeDown(ev, nodeId) {
    if (ev.button !== 0) return;
    ev.stopPropagation();
    ev.preventDefault();
    const port = ev.target.closest(".dz-port");
    if (port) {
      this.startConnect(ev, port);
      return;
    }
    this.focus({ preventScroll: true });
    this.selected = { kind: "node", id: nodeId };
    const node = this.nodes.get(nodeId);
    const start = { x: ev.clientX, y: ev.clientY, px: node.position[0], py: node.position[1] };
    const group = ev.currentTarget;
    this.nodeLayer.append(group); // on top
    this.renderInspector();
    for (const g of this.nodeLayer.querySelectorAll(".dz-selected")) g.classList.remove("dz-selected");
    group.classList.add("dz-selected");
    const move = (e) => {
      node.position = [start.px + (e.clientX - start.x) / this.view.k, start.py + (e.clientY - start.y) / this.view.k];
      group.setAttribute("transform", `translate(${node.position[0]} ${node.position[1]})`);
      this.renderEdges();
    };
    const up = () => {
      document.removeEventListener("pointermove", move);
      document.removeEventListener("pointerup", up);
    };
    document.addEventListener("pointermove", move);
    document.addEventListener("pointerup", up);
  }

  // -- connections ---------------------------------------------------------------------------------

  startConnect(ev, port) {
    const from = {
      node: port.dataset.nodeId,
      connector: port.dataset.connector,
      direction: port.dataset.direction,
    };
    const [sx, sy] = this.portPoint(from.node, from.connector, from.direction);
    const line = svg("path", { class: "dz-edge-temp", d: `M ${sx} ${sy} L ${sx} ${sy}` });
    this.tempLayer.append(line);
    let target = null;
    const portAt = (e) => {
      const hit = document.elementFromPoint(e.clientX, e.clientY);
      const p = hit && hit.closest && hit.closest(".dz-port");
      return p && p.dataset.nodeId !== from.node ? p : null;
    };
    const move = (e) => {
      const [x, y] = this.toCanvas(e.clientX, e.clientY);
      line.setAttribute("d", this.curve(sx, sy, x, y));
      const p = portAt(e);
      if (p !== target) {
        if (target) target.classList.remove("dz-ok", "dz-bad");
        target = p;
        if (target) this.preview(from, target);
        else this.hint.textContent = "";
      }
    };
    const up = async (e) => {
      document.removeEventListener("pointermove", move);
      document.removeEventListener("pointerup", up);
      line.remove();
      const p = portAt(e);
      if (target) target.classList.remove("dz-ok", "dz-bad");
      if (!p) {
        this.hint.textContent = "";
        return;
      }
      await this.connect(from, { node: p.dataset.nodeId, connector: p.dataset.connector });
    };
    document.addEventListener("pointermove", move);
    document.addEventListener("pointerup", up);
  }

  connectionBody(from, to) {
    const source = this.nodes.get(from.node);
    const target = this.nodes.get(to.node);
    return {
      source_node_type: source.type,
      source_connector_id: from.connector,
      target_node_type: target.type,
      target_connector_id: to.connector,
      existing_source_connections: this.edges.filter(
        (e) => e.source === from.node && e.source_handle === from.connector,
      ).length,
      existing_target_connections: this.edges.filter((e) => e.target === to.node && e.target_handle === to.connector)
        .length,
    };
  }

  validateConnection(from, to) {
    const body = this.connectionBody(from, to);
    const key = JSON.stringify(body);
    if (!this.validations.has(key)) {
      const pending = api("POST", "/nodes/validate-connection", body).catch((err) => ({
        valid: false,
        errors: [errorText(err)],
      }));
      this.validations.set(key, pending);
    }
    return this.validations.get(key);
  }

  async preview(from, port) {
    const to = { node: port.dataset.nodeId, connector: port.dataset.connector };
    const answer = await this.validateConnection(from, to);
    if (!port.isConnected) return;
    port.classList.toggle("dz-ok", !!answer.valid);
    port.classList.toggle("dz-bad", !answer.valid);
    this.hint.dataset.kind = answer.valid ? "ok" : "bad";
    this.hint.textContent = answer.valid
      ? `${from.node}.${from.connector} → ${to.node}.${to.connector}: connection allowed`
      : `${from.node}.${from.connector} → ${to.node}.${to.connector}: ${(answer.errors || []).join("; ")}`;
  }

  async connect(from, to) {
    const answer = await this.validateConnection(from, to);
    const label = `${from.node}.${from.connector} → ${to.node}.${to.connector}`;
    if (!answer.valid) {
      const message = `Connection refused: ${label}: ${(answer.errors || []).join("; ")}`;
      this.hint.dataset.kind = "bad";
      this.hint.textContent = message;
      this.say(message, "error");
      return;
    }
    if (this.edges.some((e) => e.source === from.node && e.source_handle === from.connector && e.target === to.node && e.target_handle === to.connector)) {
      this.say(`${label} is already connected`);
      return;
    }
    let n = this.edges.length + 1;
    while (this.edges.some((e) => e.id === `e${n}`)) n += 1;
    this.edges.push({
      id: `e${n}`,
      source: from.node,
      target: to.node,
      source_handle: from.connector,
      target_handle: to.connector,
    });
    this.validations.clear(); // counts of existing connections changed
    this.hint.dataset.kind = "ok";
    this.hint.textContent = `Connected ${label}`;
    this.say(`Connected ${label}`);
    this.renderEdges();
  }

  removeSelected() {
    if (!this.selected) return;
    if (this.selected.kind === "node") {
      const id = this.selected.id;
      this.nodes.delete(id);
      this.edges = this.edges.filter((e) => e.source !== id && e.target !== id);
    } else {
      this.edges = this.edges.filter((e) => e.id !== this.selected.id);
    }
    this.validations.clear();
    this.selected = null;
    this.renderCanvas();
    this.renderInspector();
  }

  // -- inspector -----------------------------------------------------------------------------------

  renderInspector() {
    const box = this.inspector;
    box.textContent = "";
    const sel = this.selected;
    if (sel && sel.kind === "node" && this.nodes.has(sel.id)) {
      box.append(this.nodeForm(this.nodes.get(sel.id)));
    } else if (sel && sel.kind === "edge") {
      const edge = this.edges.find((e) => e.id === sel.id);
      if (!edge) return;
      box.append(
        el("h3", {}, `Edge ${edge.id}`),
        el("p", {}, `${edge.source}.${edge.source_handle} → ${edge.target}.${edge.target_handle}`),
        el("button", { type: "button", class: "dz-remove", onclick: () => this.removeSelected() }, "Remove edge"),
      );
    } else {
      box.append(this.draftForm());
    }
  }

  draftForm() {
    const params = el("textarea", { class: "dz-params", rows: 5, "aria-label": "Parameters (JSON)" });
    params.value = JSON.stringify(this.canvasParams || {}, null, 2);
    const error = el("div", { class: "dz-field-error" });
    params.addEventListener("change", () => {
      try {
        const value = JSON.parse(params.value || "{}");
        if (!value || typeof value !== "object" || Array.isArray(value)) throw new Error("an object");
        this.canvasParams = value;
        error.textContent = "";
      } catch {
        error.textContent = "Parameters must be a JSON object";
      }
    });
    const desc = el("textarea", { class: "dz-description", rows: 2, "aria-label": "Description" });
    desc.value = this.draft.description || "";
    desc.addEventListener("input", () => {
      this.draft.description = desc.value;
    });
    return el(
      "div",
      { class: "dz-form" },
      el("h3", {}, "Draft"),
      el("p", { class: "dz-muted" }, this.draft.draft_id ? `Draft ${this.draft.draft_id}` : "Not saved yet"),
      el("label", {}, "Description", desc),
      el("label", {}, "Parameters (JSON)", params),
      error,
      el("p", { class: "dz-muted" }, "Drag a node from the palette; drag from a connector to another to join them."),
    );
  }

  nodeForm(node) {
    const def = this.registry.get(node.type);
    const form = el("form", { class: "dz-form", "data-node-id": node.id });
    form.addEventListener("submit", (ev) => ev.preventDefault());
    form.append(
      el("h3", {}, (def && def.label) || node.type),
      el("p", { class: "dz-muted" }, `${node.id} · ${node.type}`),
      def && def.description ? el("p", { class: "dz-muted" }, def.description) : null,
    );
    const labelInput = el("input", { name: "__label", value: node.label || "" });
    labelInput.addEventListener("input", () => {
      if (labelInput.value) node.label = labelInput.value;
      else delete node.label;
      const title = this.nodeLayer.querySelector(`[data-node-id="${CSS.escape(node.id)}"] .dz-node-title`);
      if (title) title.textContent = node.label || (def && def.label) || node.type;
    });
    form.append(el("label", {}, "Label", labelInput));
    for (const field of (def && def.config_schema) || []) form.append(this.fieldInput(node, field));
    form.append(this.settingsInputs(node));
    const problems = this.problemsOf(node.id);
    if (problems.length) {
      form.append(
        el("ul", { class: "dz-node-problems" }, problems.map((p) => el("li", {}, `${p.path}: ${p.message}`))),
      );
    }
    form.append(el("button", { type: "button", class: "dz-remove", onclick: () => this.removeSelected() }, "Remove node"));
    return form;
  }

  settingsInputs(node) {
    // The step's settings (retries, delays, timeout), kept apart from its config in `settings`.
    const box = el("fieldset", { class: "dz-settings" }, el("legend", {}, "Step settings"));
    const holder = { data: node.settings || {} };
    const fields = [
      { name: "retries", label: "Retries", type: "integer" },
      { name: "retry_delay_seconds", label: "Retry delay (s)", type: "number" },
      { name: "timeout_seconds", label: "Timeout (s)", type: "number" },
    ];
    for (const field of fields) {
      const row = this.fieldInput(holder, field, node.id);
      row.addEventListener("input", () => {
        if (Object.keys(holder.data).length) node.settings = holder.data;
        else delete node.settings;
      });
      box.append(row);
    }
    return box;
  }

  fieldInput(node, field, settingsOf) {
    const value = node.data[field.name];
    const id = settingsOf ? `dz-s-${settingsOf}-${field.name}` : `dz-f-${node.id}-${field.name}`;
    let input;
    const type = field.type || "string";
    if (type === "boolean") {
      input = el("input", { type: "checkbox", checked: value === true });
    } else if (type === "select") {
      input = el("select", {}, el("option", { value: "" }, "—"));
      for (const option of field.options || []) input.append(el("option", { value: String(option) }, String(option)));
      input.value = value === undefined ? "" : String(value);
    } else if (["object", "json", "text", "code"].includes(type)) {
      input = el("textarea", { rows: type === "text" ? 3 : 5, spellcheck: "false" });
      input.value = fieldDisplay(field, value);
    } else {
      const inputType = type === "secret" ? "password" : type === "integer" || type === "number" ? "text" : "text";
      input = el("input", { type: inputType, inputmode: type === "integer" || type === "number" ? "decimal" : undefined });
      input.value = fieldDisplay(field, value);
      if (type === "array") input.placeholder = "a, b, c or a JSON array";
    }
    input.id = id;
    input.name = settingsOf ? `settings.${field.name}` : field.name;
    input.dataset.fieldType = type;
    if (field.required) input.required = true;
    const error = el("div", { class: "dz-field-error" });
    const update = () => {
      try {
        const v = fieldValueFromInput(field, input);
        if (v === undefined) delete node.data[field.name];
        else node.data[field.name] = v;
        error.textContent = "";
        input.removeAttribute("aria-invalid");
      } catch (err) {
        error.textContent = `${field.label || field.name} ${err.message}`;
        input.setAttribute("aria-invalid", "true");
      }
    };
    input.addEventListener(type === "boolean" || type === "select" ? "change" : "input", update);
    const path = settingsOf
      ? `nodes.${settingsOf}.settings.${field.name}`
      : `nodes.${node.id}.data.${field.name}`;
    const problems = this.problems.filter((p) => p.path === path);
    if (problems.length) error.textContent = problems.map((p) => p.message).join("; ");
    return el(
      "div",
      { class: `dz-field dz-field-${type}` },
      el("label", { for: id }, field.label || field.name, field.required ? " *" : ""),
      input,
      field.description ? el("div", { class: "dz-help" }, field.description) : null,
      error,
    );
  }

  renderProblems() {
    this.problemList.textContent = "";
    if (!this.problems.length) {
      this.problemList.append(el("li", { class: "dz-ok-line" }, this.draft.draft_id ? "No problems" : "Not validated yet"));
      return;
    }
    for (const p of this.problems) {
      const item = el("li", { class: "dz-problem", "data-path": p.path || "" }, `${p.path}: ${p.message}`);
      if (p.node && this.nodes.has(p.node)) {
        item.addEventListener("click", () => {
          this.selected = { kind: "node", id: p.node };
          this.renderCanvas();
          this.renderInspector();
        });
      }
      this.problemList.append(item);
    }
  }

  // -- save, deploy, run ---------------------------------------------------------------------------

  async save() {
    const body = {
      name: (this.draft.name || "").trim() || "Untitled pipeline",
      description: this.draft.description || null,
      flow_name: this.draft.flow_name || null,
      canvas_json: this.canvasJson(),
    };
    try {
      if (this.draft.draft_id) {
        await api("PUT", `/dag-drafts/${encodeURIComponent(this.draft.draft_id)}`, body);
      } else {
        const created = await api("POST", "/dag-drafts", body);
        this.draft.draft_id = created.draft_id;
        setQuery({ draft: created.draft_id, session: null });
        this.listDrafts().catch(() => {});
      }
      const fresh = await api("GET", `/dag-drafts/${encodeURIComponent(this.draft.draft_id)}`);
      this.problems = (fresh.validation && fresh.validation.errors) || [];
      const warnings = (fresh.validation && fresh.validation.warnings) || [];
      this.say(
        this.problems.length
          ? `Saved draft ${this.draft.draft_id} with ${this.problems.length} problem(s)`
          : `Saved draft ${this.draft.draft_id}: valid${warnings.length ? ` (${warnings.length} warning(s))` : ""}`,
        this.problems.length ? "error" : "ok",
      );
      this.dataset.draftId = this.draft.draft_id;
      this.renderAll();
      return this.problems.length === 0;
    } catch (err) {
      this.problems = errorDetails(err);
      this.say(`Save failed: ${errorText(err)}`, "error");
      this.renderAll();
      return false;
    }
  }

  async deploy() {
    if (!(await this.save())) return null;
    try {
      const answer = await api("POST", `/dag-drafts/${encodeURIComponent(this.draft.draft_id)}/deploy`, {});
      this.deployment = answer;
      this.dataset.deployment = answer.deployment_name;
      this.say(`Deployed ${answer.flow_name} ${answer.flow_version} as deployment ${answer.deployment_name}`, "ok");
      return answer;
    } catch (err) {
      this.problems = errorDetails(err);
      this.renderAll();
      this.say(`Deploy failed: ${errorText(err)}`, "error");
      return null;
    }
  }

  async run() {
    const deployment = this.deployment || (await this.deploy());
    if (!deployment) return;
    try {
      const answer = await api("POST", "/runs", { deployment: deployment.deployment_name, parameters: {} });
      this.watch(answer.run_id);
    } catch (err) {
      this.say(`Run failed to start: ${errorText(err)}`, "error");
    }
  }

  watch(runId) {
    clearTimeout(this.pollTimer);
    const state = el("span", { class: "dz-run-state" }, "queued");
    this.runLink.textContent = "";
    this.runLink.append(
      "Run ",
      el("a", { href: href(`/runs/${encodeURIComponent(runId)}`), class: "dz-run-link", "data-run-id": runId }, runId),
      ": ",
      state,
    );
    const poll = async () => {
      if (this.stopped) return;
      try {
        const run = await api("GET", `/runs/${encodeURIComponent(runId)}`);
        const status = String(run.status || "").toLowerCase();
        state.textContent = status;
        state.dataset.status = status;
        if (TERMINAL.has(status)) {
          this.say(`Run ${runId} ${status}`, status === "completed" || status === "succeeded" ? "ok" : "error");
          return;
        }
      } catch (err) {
        state.textContent = errorText(err);
      }
      this.pollTimer = setTimeout(poll, 700);
    };
    poll();
  }
}

if (!customElements.get("dagy-designer")) customElements.define("dagy-designer", DesignerPage);
registerPage("/designer", "dagy-designer", { title: "Designer", nav: "Designer", order: 50, permission: "flows.read" });
registerPage("/designer/:draft_id", "dagy-designer", { title: "Designer" });
