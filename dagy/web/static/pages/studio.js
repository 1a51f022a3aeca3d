// The AI studio: the caller's sessions, a chat whose answers stream in over SSE (the text shown as
// it arrives), the turn's validation and YAML, and "Open in designer" for the session's canvas;
// the session's model tier (from GET /ai-studio/tiers, with its limits and the credit balance),
// its attachments (initiate -> one PUT to the signed upload_url -> complete; remove), and binding
// its pipeline to a flow (save as a draft, deploy). Every string from data is rendered as text.

import { api, stream } from "../api.js";
import { href, registerPage } from "../app.js";
import { can } from "../ui.js";
import { el, ensureStyles, errorText } from "./designer.js";

export const designerHref = (sessionId) => href("/designer", { session: sessionId });

function eventOf(a, b) {
  let name = a;
  let data = b;
  if (a && typeof a === "object") {
    name = a.event || a.type || a.name;
    data = a.data;
  }
  if (typeof data === "string") {
    try {
      data = JSON.parse(data);
    } catch {
      data = { text: data };
    }
  }
  return [name, data || {}];
}

export class StudioPage extends HTMLElement {
  connectedCallback() {
    ensureStyles(new URL("./designer.css", import.meta.url).pathname);
    this.classList.add("st");
    this.session = null;
    this.render();
    this.loadTiers().catch((err) => this.say(errorText(err)));
    this.refresh().catch((err) => this.say(errorText(err)));
  }

  render() {
    this.textContent = "";
    this.list = el("ul", { class: "st-list" });
    this.status = el("div", { class: "st-status", role: "status" });
    this.heading = el("h2", { class: "st-title" }, "AI studio");
    this.history = el("div", { class: "st-history", "aria-live": "polite" });
    this.input = el("textarea", {
      class: "st-input",
      rows: 3,
      "aria-label": "Message",
      placeholder: "Describe the workflow to build, e.g. read JSON from s3://bucket/in.json, dedupe by id, write to s3://bucket/out.json",
    });
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) this.send();
    });
    this.sendButton = el("button", { type: "button", class: "st-send", onclick: () => this.send() }, "Send");
    this.result = el("section", { class: "st-result" });
    this.openButton = el("a", { class: "st-open button", href: "#", hidden: true }, "Open in designer");
    const write = can("flows.write");
    this.tier = el("select", { class: "st-tier", "aria-label": "Model tier", disabled: !write });
    this.tier.addEventListener("change", () => this.setTier());
    this.tierInfo = el("small", { class: "st-tier-info muted" });
    this.attachList = el("ul", { class: "st-attachments" });
    this.attachError = el("p", { class: "st-attach-error error", role: "alert" });
    this.attachLimits = el("small", { class: "st-attach-limits muted" });
    this.fileInput = el("input", { type: "file", class: "st-attach", multiple: true, "aria-label": "Attach files",
      accept: ".pdf,.docx,.pptx,.csv,.txt,.md,.json,.yaml,.yml" });
    this.fileInput.addEventListener("change", () => this.attach([...this.fileInput.files]));
    this.bindName = el("input", { type: "text", class: "st-flow-name", "aria-label": "Flow name", placeholder: "flow_name" });
    this.bindSave = el("input", { type: "checkbox", class: "st-bind-save", checked: true });
    this.bindDeploy = el("input", { type: "checkbox", class: "st-bind-deploy" });
    this.bindButton = el("button", { type: "button", class: "st-bind", onclick: () => this.bind() }, "Bind to flow");
    this.bindResult = el("div", { class: "st-bind-result", role: "status" });
    this.extras = el("section", { class: "st-extras", hidden: true },
      el("div", { class: "st-row" }, el("label", {}, "Model tier ", this.tier), this.tierInfo),
      el("div", { class: "st-row" }, el("h3", {}, "Attachments"), this.attachList,
        write ? this.fileInput : null, this.attachLimits, this.attachError),
      write ? el("div", { class: "st-row st-bind-row" }, el("h3", {}, "Bind to a flow"), this.bindName,
        el("label", {}, this.bindSave, " save as a draft"), el("label", {}, this.bindDeploy, " deploy"),
        this.bindButton, this.bindResult) : null);
    this.append(
      el(
        "aside",
        { class: "st-sessions" },
        can("flows.write")
          ? el("button", { type: "button", class: "st-new", onclick: () => this.create() }, "New session")
          : null,
        this.list,
      ),
      el(
        "div",
        { class: "st-main" },
        this.heading,
        this.status,
        this.history,
        can("flows.write") ? el("div", { class: "st-compose" }, this.input, this.sendButton) : null,
        this.openButton,
        this.result,
        this.extras,
      ),
    );
  }

  say(text) {
    this.status.textContent = text;
  }

  async refresh() {
    const answer = await api("GET", "/ai-studio/sessions?limit=50");
    this.list.textContent = "";
    for (const item of answer.items || []) {
      const li = el(
        "li",
        {
          class: "st-session",
          "data-session-id": item.session_id,
          "aria-current": this.session && this.session.session_id === item.session_id ? "true" : "false",
          tabindex: "0",
        },
        item.title || item.session_id,
      );
      li.addEventListener("click", () => this.open(item.session_id));
      this.list.append(li);
    }
    if (!this.session && (answer.items || []).length) await this.open(answer.items[0].session_id);
  }

  async create() {
    // A turn sent while the new session is still being made waits for it (send): otherwise it
    // went to the session shown before, and the new session's open then wiped its answer.
    const creating = (async () => {
      try {
        const created = await api("POST", "/ai-studio/sessions", {});
        this.session = created;
        await this.open(created.session_id);
        await this.refresh();
      } catch (err) {
        this.say(errorText(err));
      }
    })();
    this.creating = creating;
    try {
      await creating;
    } finally {
      if (this.creating === creating) this.creating = null;
    }
  }

  async open(sessionId) {
    const seq = (this.openSeq = (this.openSeq || 0) + 1);
    const body = await api("GET", `/ai-studio/sessions/${encodeURIComponent(sessionId)}`);
    if (seq !== this.openSeq) return; // another session was opened (or a turn sent) meanwhile
    this.dataset.sessionId = body.session_id;
    this.session = body;
    this.heading.textContent = body.title || body.session_id;
    for (const li of this.list.querySelectorAll(".st-session")) {
      li.setAttribute("aria-current", li.dataset.sessionId === sessionId ? "true" : "false");
    }
    this.history.textContent = "";
    for (const msg of body.history || []) this.addMessage(msg.role, msg.content);
    this.showResult(body.pipeline_yaml ? body.validation : null, body.pipeline_yaml);
    this.showOpen(body);
    this.showExtras(body);
  }

  async loadTiers() {
    this.tiers = await api("GET", "/ai-studio/tiers");
    this.tier.textContent = "";
    for (const t of this.tiers.items || []) {
      this.tier.append(el("option", { value: t.tier }, `${t.label || t.tier} · ${t.credits_per_turn} credits a turn`));
    }
    if (this.session) this.showExtras(this.session);
  }

  tierOf(name) {
    return (this.tiers?.items || []).find((t) => t.tier === name);
  }

  showExtras(body) {
    this.extras.hidden = false;
    if (this.tiers) this.tier.value = body.tier || this.tiers.default_tier;
    const t = this.tierOf(this.tier.value);
    const balance = this.tiers?.credits_balance;
    this.tierInfo.textContent = t
      ? `${(t.description || "").replace(/([^.])$/, "$1.")} Up to ${t.limits.max_turns_per_session} turns a session.` +
        (balance !== undefined && balance !== null ? ` Credits left: ${balance}.` : "")
      : "";
    if (t) {
      const mb = Math.round(t.limits.max_attachment_bytes / (1024 * 1024));
      this.attachLimits.textContent = `Up to ${t.limits.max_attachments_per_session} files a session, ${mb} MB each: PDF, DOCX, PPTX, CSV, TXT, MD, JSON, YAML (no images).`;
    }
    this.attachList.textContent = "";
    for (const a of body.attachments || []) {
      this.attachList.append(el("li", { class: "st-attachment", "data-attachment-id": a.attachment_id, "data-status": a.status },
        `${a.file_name} · ${a.kind} · ${a.size_bytes ?? "?"} bytes · ${a.status} `,
        can("flows.write")
          ? el("button", { type: "button", class: "link st-remove", onclick: () => this.detach(a.attachment_id) }, "Remove")
          : null));
    }
    if (!this.bindName.value && body.flow_name) this.bindName.value = body.flow_name;
    this.dataset.tier = body.tier || "";
    this.dataset.flowName = body.flow_name || "";
  }

  async ensureSession() {
    if (!this.session) {
      this.session = await api("POST", "/ai-studio/sessions", {});
      await this.open(this.session.session_id);
      await this.refresh();
    }
    return this.session.session_id;
  }

  sessionPath(suffix = "") {
    return `/ai-studio/sessions/${encodeURIComponent(this.session.session_id)}${suffix}`;
  }

  async setTier() {
    try {
      await this.ensureSession();
      const r = await api("PATCH", this.sessionPath("/tier"), { tier: this.tier.value });
      this.session.tier = r.tier;
      this.showExtras(this.session);
      this.say(`Tier: ${r.tier}`);
    } catch (err) {
      this.say(errorText(err));
      if (this.session) this.tier.value = this.session.tier;
    }
  }

  // One file: initiate (the API checks name, type and size), PUT it to the signed URL, complete.
  async attach(files) {
    this.attachError.textContent = "";
    try {
      await this.ensureSession();
      for (const file of files) {
        const started = await api("POST", this.sessionPath("/attachments/initiate"), {
          file_name: file.name, content_type: file.type || "application/octet-stream", size_bytes: file.size,
        });
        // the signed URL is the credential: no Authorization header; same origin as the page
        const target = new URL(started.upload_url, location.href);
        const put = await fetch(location.origin + target.pathname + target.search, {
          method: "PUT", headers: started.headers || {}, body: file,
        });
        if (!put.ok) {
          let data = null;
          try { data = await put.json(); } catch { /* not JSON */ }
          throw new Error(data?.message || `Upload failed: HTTP ${put.status}`);
        }
        await api("POST", this.sessionPath("/attachments/complete"), { attachment_id: started.attachment_id });
      }
    } catch (err) {
      this.attachError.textContent = errorText(err);
    }
    this.fileInput.value = "";
    if (this.session) await this.open(this.session.session_id).catch(() => {});
  }

  async detach(attachmentId) {
    try {
      await api("DELETE", this.sessionPath(`/attachments/${encodeURIComponent(attachmentId)}`));
      await this.open(this.session.session_id);
    } catch (err) {
      this.attachError.textContent = errorText(err);
    }
  }

  async bind() {
    this.bindResult.textContent = "";
    this.bindResult.classList.remove("error");
    try {
      await this.ensureSession();
      const r = await api("POST", this.sessionPath("/bind-flow"), {
        flow_name: this.bindName.value.trim(), save: this.bindSave.checked, deploy: this.bindDeploy.checked,
      });
      const parts = [`Bound to flow ${r.session.flow_name}.`];
      if (r.draft) parts.push(el("a", { href: href("/designer", { draft: r.draft.draft_id }), class: "st-draft-link" }, ` Draft ${r.draft.draft_id}`), ".");
      if (r.deployment) parts.push(` Deployed version ${r.deployment.flow_version} (deployment ${r.deployment.deployment_name}).`);
      this.bindResult.textContent = "";
      this.bindResult.append(...parts);
      this.session = { ...this.session, ...r.session };
      this.dataset.flowName = r.session.flow_name || "";
    } catch (err) {
      this.bindResult.classList.add("error");
      this.bindResult.textContent = errorText(err);
    }
  }

  showOpen(body) {
    const hasCanvas = body && body.canvas_state && (body.canvas_state.nodes || []).length > 0;
    this.openButton.hidden = !hasCanvas;
    this.openButton.setAttribute("href", designerHref(body.session_id));
  }

  addMessage(role, text) {
    const node = el("div", { class: `st-msg st-${role === "user" ? "user" : "assistant"}`, "data-role": role }, text || "");
    this.history.append(node);
    this.history.scrollTop = this.history.scrollHeight;
    return node;
  }

  showResult(validation, yaml, errors) {
    this.result.textContent = "";
    if (validation) {
      const problems = [...(validation.errors || []), ...(errors || [])];
      this.result.append(
        el(
          "p",
          { class: validation.valid && !problems.length ? "st-valid" : "st-invalid" },
          validation.valid && !problems.length ? "Validation: valid" : "Validation: has problems",
        ),
      );
      if (problems.length) {
        this.result.append(
          el(
            "ul",
            { class: "st-problems" },
            problems.map((p) => el("li", {}, typeof p === "string" ? p : `${p.path || ""}: ${p.message || ""}`)),
          ),
        );
      }
    }
    if (yaml) this.result.append(el("h3", {}, "Pipeline YAML"), el("pre", { class: "st-yaml" }, yaml));
  }

  async send() {
    const message = this.input.value.trim();
    if (!message || this.busy) return;
    if (this.creating) {
      this.busy = true; // one turn, however often Send is pressed meanwhile
      try {
        await this.creating;
      } finally {
        this.busy = false;
      }
    }
    if (!this.session) {
      try {
        this.session = await api("POST", "/ai-studio/sessions", {});
      } catch (err) {
        this.say(errorText(err));
        return;
      }
    }
    const sessionId = this.session.session_id;
    this.openSeq = (this.openSeq || 0) + 1; // a session still loading must not wipe this turn
    this.busy = true;
    this.sendButton.disabled = true;
    this.addMessage("user", message);
    const answer = this.addMessage("assistant", "");
    answer.classList.add("st-streaming");
    const progress = el("div", { class: "st-progress" });
    this.history.append(progress);
    this.input.value = "";
    let final = null;
    const onEvent = (a, b) => {
      const [name, data] = eventOf(a, b);
      if (name === "progress") progress.textContent = data.message || data.stage || "";
      else if (name === "delta") answer.textContent += data.text || "";
      else if (name === "result" || name === "error") final = { name, data };
    };
    try {
      await stream(`/ai-studio/sessions/${encodeURIComponent(sessionId)}/messages/stream`, { message }, onEvent);
    } catch (err) {
      final = { name: "error", data: (err && (err.body || err.data)) || { message: errorText(err) } };
    }
    progress.remove();
    answer.classList.remove("st-streaming");
    this.busy = false;
    this.sendButton.disabled = false;
    if (final && final.data) {
      const data = final.data;
      if (data.response && answer.textContent !== data.response) answer.textContent = data.response;
      if (!answer.textContent) answer.textContent = data.message || "";
      this.showResult(data.validation, data.pipeline_yaml, data.workflow_errors);
      this.say(final.name === "error" ? `Turn refused: ${data.message || data.error || ""}` : `Turn ${data.workflow_status || "done"}`);
      if (data.canvas_state) this.showOpen({ session_id: sessionId, canvas_state: data.canvas_state });
    }
    await this.refresh().catch(() => {});
  }
}

if (!customElements.get("dagy-studio")) customElements.define("dagy-studio", StudioPage);
registerPage("/studio", "dagy-studio", { title: "AI studio", nav: "AI studio", order: 55, permission: "flows.read" });
