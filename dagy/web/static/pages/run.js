// One run: details, DAG graph, Gantt timeline, task logs (follow, search), parameters and result,
// cancel and retry. Polls while the run is not final.
import { get, api, download, fetchFile } from "../api.js";
import { href, navigate, registerPage } from "../app.js";
import { action, badge, errorText, fmtDuration, fmtTime, h, mount, poll, table, when } from "../ui.js";
import "../run-graph.js";
import "../run-gantt.js";

const FINAL = new Set(["completed", "failed", "cancelled", "crashed", "succeeded", "skipped"]);
const POLL_MS = 1500, LOG_MS = 1000, MAX_LINES = 5000, MAX_ATTEMPT_LOGS = 50;
const ATTEMPT = /attempt (\d+) of \S+ started/;
const ATTEMPT_END = /attempt (\d+) failed/;

const FILES_PAGE = 200, PREVIEW_MAX = 256 * 1024;
const TEXTUAL = /^(application\/json|text\/)/;
const fmtBytes = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`);

const pre = (value) => h("pre", { class: "json" }, value === undefined || value === null ? "—" : JSON.stringify(value, null, 2));

class LogView extends HTMLElement {
  connectedCallback() {
    if (this.out) return;
    this.task = h("select", { name: "task", "aria-label": "Log of" });
    this.task.addEventListener("change", () => this.open(this.runId, this.task.value));
    this.follow = h("input", { type: "checkbox", name: "follow", checked: true });
    this.search = h("input", { type: "search", name: "search", placeholder: "Search the log" });
    this.search.addEventListener("input", () => this.filter());
    this.count = h("span", { class: "muted log-count" });
    this.out = h("pre", { class: "logbox", "aria-label": "Log" });
    this.append(h("div", { class: "toolbar" }, this.task,
      h("label", {}, this.follow, " Follow"), this.search, this.count), this.out);
  }

  setTasks(runId, tasks) {
    this.connectedCallback();
    const have = new Set([...this.task.options].map((o) => o.value));
    if (!have.has("")) this.task.append(h("option", { value: "" }, "Whole run"));
    for (const t of tasks) if (!have.has(t.task_run_id)) this.task.append(h("option", { value: t.task_run_id }, t.task_run_id));
    if (this.runId !== runId) this.open(runId, this.task.value);
  }

  open(runId, taskRunId) {
    this.runId = runId;
    this.taskRunId = taskRunId || "";
    this.task.value = this.taskRunId;
    this.token = undefined;
    this.lines = 0;
    this.done = false;
    this.out.replaceChildren();
    this.gen = (this.gen || 0) + 1;
    this.stop?.();
    this.pull();
    this.stop = poll(() => (this.follow.checked && !this.done ? this.pull() : null), LOG_MS, this);
  }

  async pull() {
    if (this.busy) return;
    this.busy = true;
    const gen = this.gen;
    try {
      for (let i = 0; i < 20; i++) {
        const page = await get(`/runs/${encodeURIComponent(this.runId)}/logs`, { task_run_id: this.taskRunId, next_token: this.token, limit: 1000 });
        if (gen !== this.gen) return;
        const frag = document.createDocumentFragment();
        for (const e of page.events) {
          const text = `${e.untimed ? "" : (e.timestamp || "") + " "}${e.message}`;
          frag.append(h("div", { class: "logline" }, text));
        }
        this.out.append(frag);
        this.lines += page.events.length;
        while (this.out.childElementCount > MAX_LINES) this.out.firstElementChild.remove();
        if (page.events.length) {
          this.filter();
          if (this.follow.checked) this.out.scrollTop = this.out.scrollHeight;
        }
        if (!page.next_token) { this.done = true; break; }
        this.token = page.next_token;
        if (page.events.length < 1000) break;
      }
    } catch (e) {
      if (gen === this.gen) this.count.textContent = errorText(e);
    } finally {
      this.busy = false;
    }
  }

  filter() {
    const q = this.search.value.trim().toLowerCase();
    let hits = 0;
    for (const line of this.out.children) {
      const hit = !!q && line.textContent.toLowerCase().includes(q);
      if (hit) hits++;
      line.hidden = !!q && !hit;
      line.classList.toggle("hit", hit);
    }
    this.count.textContent = q ? `${hits} matching lines` : `${this.out.childElementCount} lines`;
  }
}
customElements.define("dagy-log-view", LogView);

// The run's stored files (GET /runs/{id}/artifacts): each task's result.json and its own files,
// viewed inline (small text/JSON) or downloaded as a blob (the token stays in a header).
class RunFiles extends HTMLElement {
  async load(runId) {
    this.runId = runId;
    const gen = (this.gen = (this.gen || 0) + 1);
    const rows = [];
    let token = null;
    const more = h("button", { type: "button", class: "more", onclick: () => next() }, "More files");
    this.preview = this.preview || h("div", { class: "file-preview" });
    const draw = () => mount(this,
      table([
        { title: "Task", cell: (f) => [f.task_name, " ", h("span", { class: "mono muted" }, f.task_run_id)] },
        { title: "File", cell: (f) => h("span", { class: "mono" }, f.name) },
        { title: "Kind", cell: (f) => (f.kind === "result" ? "result" : "file") },
        { title: "Size", cell: (f) => fmtBytes(f.size), class: "num" },
        { title: "Type", cell: (f) => f.content_type },
        { title: "", cell: (f) => this.buttons(f) },
      ], rows, { empty: "No stored results or files (yet)." }),
      token ? more : null, this.preview);
    const next = async () => {
      try {
        const page = await get(`/runs/${encodeURIComponent(runId)}/artifacts`, { limit: FILES_PAGE, next_token: token });
        if (gen !== this.gen) return;
        rows.push(...page.items);
        token = page.next_token;
        draw();
        this.dataset.count = String(rows.length);
      } catch (e) {
        if (gen === this.gen) mount(this, h("p", { class: "error" }, errorText(e)));
      }
    };
    await next();
  }

  path(f) {
    return `/runs/${encodeURIComponent(this.runId)}/artifacts/${encodeURIComponent(f.task_run_id)}/${encodeURIComponent(f.name)}`;
  }

  buttons(f) {
    const view = TEXTUAL.test(f.content_type) && f.size <= PREVIEW_MAX
      ? h("button", { type: "button", class: "view-file", onclick: () => this.view(f) }, "View")
      : null;
    return [view, " ", h("button", { type: "button", class: "download-file", "data-name": f.name,
      onclick: () => action(() => download(this.path(f), f.name)) }, "Download")];
  }

  async view(f) {
    try {
      const text = await (await fetchFile(this.path(f))).text();
      let shown = text;
      if (f.content_type.startsWith("application/json")) {
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* as stored */ }
      }
      mount(this.preview, h("h3", {}, `${f.task_name} · ${f.name}`), h("pre", { class: "json" }, shown));
    } catch (e) {
      mount(this.preview, h("p", { class: "error" }, errorText(e)));
    }
  }
}
customElements.define("dagy-run-files", RunFiles);

class RunPage extends HTMLElement {
  connectedCallback() {
    this.runId = this.params.id;
    this.attempts = new Map();
    this.head = h("div", {}, h("h1", {}, "Run ", h("span", { class: "mono" }, this.runId)));
    this.graph = h("dagy-run-graph");
    this.gantt = h("dagy-run-gantt");
    this.logs = h("dagy-log-view");
    this.data = h("div", { class: "split" });
    this.files = h("dagy-run-files");
    const select = (ev) => { this.graph.select(ev.detail); this.logs.open(this.runId, ev.detail); };
    this.graph.addEventListener("select", select);
    this.gantt.addEventListener("select", select);
    mount(this, this.head,
      h("section", { class: "card" }, h("h2", {}, "Graph"), this.graph),
      h("section", { class: "card" }, h("h2", {}, "Timeline"), this.gantt),
      h("section", { class: "card" }, h("h2", {}, "Logs"), this.logs),
      this.data,
      h("section", { class: "card", id: "run-files" }, h("h2", {}, "Results and files"), this.files));
    this.load(true);
    this.stop = poll(() => (FINAL.has(this.run?.status) && this.finalSeen ? null : this.load(false)), POLL_MS, this);
  }

  disconnectedCallback() { this.stop?.(); }

  async load(first) {
    let run, tasks;
    try {
      [run, tasks] = await Promise.all([
        get(`/runs/${encodeURIComponent(this.runId)}`),
        get(`/runs/${encodeURIComponent(this.runId)}/task-runs`),
      ]);
    } catch (e) {
      mount(this.head, h("h1", {}, "Run ", this.runId), h("p", { class: "error" }, errorText(e)));
      return;
    }
    const changed = !this.run || this.run.status !== run.status;
    if (FINAL.has(run.status) && this.run && FINAL.has(this.run.status)) this.finalSeen = true;
    this.run = run;
    if (changed || first) this.renderHead();
    const items = tasks.items;
    if (first || items.length !== this.taskCount) {
      this.taskCount = items.length;
      this.graph.render(items, tasks.edges || []);
    } else {
      this.graph.update(items);
    }
    this.gantt.render(items, this.attempts, Date.now());
    if (await this.loadAttempts(items)) this.gantt.render(items, this.attempts, Date.now());
    this.logs.setTasks(this.runId, items);
    if (changed || first) this.renderData();
    this.dataset.status = run.status;
    this.dataset.loaded = "true";
  }

  // Retried task runs: one bar per attempt, from the "attempt N of … started" lines of their logs.
  async loadAttempts(items) {
    const want = items.filter((t) => t.attempt > 1 && (this.attempts.get(t.task_run_id)?.length || 0) < t.attempt).slice(0, MAX_ATTEMPT_LOGS);
    if (!want.length) return false;
    await Promise.all(want.map(async (t) => {
      try {
        const page = await get(`/runs/${encodeURIComponent(this.runId)}/logs`, { task_run_id: t.task_run_id, limit: 10000 });
        const tries = [];
        for (const e of page.events) {
          let m = ATTEMPT.exec(e.message);
          if (m) { tries.push({ n: Number(m[1]), start: e.timestamp, end: null }); continue; }
          m = ATTEMPT_END.exec(e.message);
          if (m && tries.length) tries[tries.length - 1].end = e.timestamp;
        }
        if (tries.length) this.attempts.set(t.task_run_id, tries);
      } catch { /* the bar stays single */ }
    }));
    return true;
  }

  renderHead() {
    const r = this.run;
    const final = FINAL.has(r.status);
    const buttons = h("div", { class: "toolbar" },
      !final ? when("runs.cancel", h("button", { class: "danger", id: "cancel-run", onclick: () => this.cancel() }, "Cancel run")) : null,
      final && r.status !== "completed" ? when("runs.trigger", h("button", { class: "primary", id: "retry-run", onclick: () => this.retry() }, "Retry from failure")) : null);
    mount(this.head,
      h("h1", {}, "Run ", h("span", { class: "mono" }, r.run_id), " ", badge(r.status)),
      buttons,
      h("dl", { class: "kv card" },
        h("dt", {}, "Flow"), h("dd", {}, h("a", { href: href(`/flows/${encodeURIComponent(r.flow_name)}`) }, r.flow_name), ` v${r.flow_version}`),
        h("dt", {}, "Deployment"), h("dd", {}, r.deployment_name || "—"),
        h("dt", {}, "Trigger"), h("dd", {}, r.trigger || "—"),
        h("dt", {}, "Created"), h("dd", {}, fmtTime(r.created_at)),
        h("dt", {}, "Started"), h("dd", {}, fmtTime(r.started_at)),
        h("dt", {}, "Completed"), h("dd", {}, fmtTime(r.completed_at)),
        h("dt", {}, "Duration"), h("dd", {}, fmtDuration(r.duration_seconds)),
        r.retry_of ? [h("dt", {}, "Retry of"), h("dd", {}, h("a", { href: href(`/runs/${r.retry_of}`), class: "mono" }, r.retry_of))] : null,
        r.error ? [h("dt", {}, "Error"), h("dd", { class: "error" }, r.error)] : null));
  }

  renderData() {
    mount(this.data,
      h("section", { class: "card" }, h("h2", {}, "Parameters"), pre(this.run.parameters)),
      h("section", { class: "card" }, h("h2", {}, "Result"), pre(this.run.output)));
    this.files.load(this.runId);
  }

  async cancel() {
    await action(() => api("POST", `/runs/${encodeURIComponent(this.runId)}/cancel`), "Cancel requested");
    this.finalSeen = false;
    await this.load(false);
  }

  async retry() {
    const r = await action(() => api("POST", `/runs/${encodeURIComponent(this.runId)}/retry`), "Retry queued");
    navigate(`/runs/${r.run_id}`);
  }
}
customElements.define("dagy-run", RunPage);
registerPage("/runs/:id", "dagy-run", { title: "Run", permission: "runs.read" });
