// The studio's pages: the modeller (autosave, checks shown on the diagram and in lists, conflicts)
// and the read-only viewer of a version or a diff. Data comes from JSON <script> blocks and
// data-* attributes, never from inline script, so the page runs under the app's strict CSP.

const AUTOSAVE_MS = 1500;

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function readJson(id) {
  const block = document.getElementById(id);
  return block ? JSON.parse(block.textContent) : null;
}

export function startStudio({ BpmnModeler, BpmnViewer, DmnModeler }) {
  const root = document.getElementById("studio");
  if (root) {
    new DraftPage(root, BpmnModeler, DmnModeler).start();
    return;
  }
  const version = readJson("studio-version");
  const viewer = document.getElementById("studio-viewer");
  if (version && viewer) showVersion(viewer, version, BpmnViewer);
}

async function showVersion(container, version, BpmnViewer) {
  const name = Object.keys(version.files).find((n) => n.endsWith(".bpmn"));
  if (!name) return;
  const modeler = new BpmnViewer({ container });
  await modeler.importXML(version.files[name]);
  modeler.get("canvas").zoom("fit-viewport");
  markChanges(modeler, version.marks || {});
}

function markChanges(modeler, marks) {
  const registry = modeler.get("elementRegistry");
  const canvas = modeler.get("canvas");
  for (const [id, kind] of Object.entries(marks)) {
    if (registry.get(id)) canvas.addMarker(id, `app-studio-changed-${kind}`);
  }
}

class DraftPage {
  constructor(root, BpmnModeler, DmnModeler) {
    this.root = root;
    this.state = readJson("studio-draft");
    this.files = { ...this.state.files };
    this.revision = this.state.revision;
    this.editable = root.dataset.editable === "true";
    this.csrf = root.dataset.csrf;
    this.saveUrl = root.dataset.saveUrl;
    this.BpmnModeler = BpmnModeler;
    this.DmnModeler = DmnModeler;
    this.current = null;
    this.dirty = false;
    this.saving = null;
    this.timer = null;
    this.marked = [];
    this.badged = new Set();
  }

  async start() {
    this.bpmn = new this.BpmnModeler({
      container: "#canvas",
      propertiesPanel: { parent: "#properties" },
    });
    this.bpmn.on("commandStack.changed", () => this.changed());
    this.renderTabs();
    const first = Object.keys(this.files).find((n) => n.endsWith(".bpmn"));
    await this.open(first);
    this.renderChecks(this.state);
    this.renderDiff(this.state.diff || []);
    document.getElementById("save-now")?.addEventListener("click", () => this.save());
    document.getElementById("conflict-theirs")?.addEventListener("click", () => this.takeTheirs());
    document.getElementById("conflict-mine")?.addEventListener("click", () => this.keepMine());
    document.getElementById("replace-file")?.addEventListener("change", (e) => this.replaceFile(e));
    for (const id of ["approve-form", "publish-form"]) {
      document.getElementById(id)?.addEventListener("submit", (e) => this.beforeSubmit(e));
    }
    window.addEventListener("beforeunload", (e) => {
      if (this.dirty) e.preventDefault();
    });
    this.root.dataset.ready = "true";
  }

  renderTabs() {
    const tabs = document.getElementById("file-tabs");
    tabs.replaceChildren();
    for (const name of Object.keys(this.files)) {
      const tab = el("button", { type: "button", role: "tab", class: "app-studio__tab", "data-file": name }, name);
      tab.addEventListener("click", () => this.open(name));
      tabs.append(tab);
    }
  }

  async open(name) {
    if (!name || name === this.current) return;
    await this.capture();
    this.current = name;
    for (const tab of document.querySelectorAll(".app-studio__tab")) {
      tab.setAttribute("aria-selected", String(tab.dataset.file === name));
    }
    const isDmn = name.endsWith(".dmn");
    document.getElementById("canvas").classList.toggle("app-studio__hidden", isDmn);
    document.getElementById("properties").classList.toggle("app-studio__hidden", isDmn);
    document.getElementById("dmn-canvas").classList.toggle("app-studio__hidden", !isDmn);
    if (isDmn) {
      if (!this.dmn) {
        this.dmn = new this.DmnModeler({ container: "#dmn-canvas" });
        this.dmn.on("views.changed", () => {});
      }
      await this.dmn.importXML(this.files[name]);
      const view = this.dmn.getActiveViewer();
      view?.on?.("commandStack.changed", () => this.changed());
    } else {
      await this.bpmn.importXML(this.files[name]);
      this.bpmn.get("canvas").zoom("fit-viewport");
      this.renderChecks(this.state);
      this.renderDiff(this.state.diff || []);
    }
  }

  // Copy the open editor's XML back into this.files.
  async capture() {
    if (!this.current) return;
    if (this.current.endsWith(".dmn")) {
      if (this.dmn) this.files[this.current] = (await this.dmn.saveXML({ format: true })).xml;
    } else {
      this.files[this.current] = (await this.bpmn.saveXML({ format: true })).xml;
    }
  }

  changed() {
    if (!this.editable || this.importing) return;
    this.dirty = true;
    this.status("Unsaved changes…");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), AUTOSAVE_MS);
  }

  status(text) {
    document.getElementById("save-status").textContent = text;
  }

  async save(options = {}) {
    if (!this.editable) return true;
    if (this.saving) await this.saving;
    clearTimeout(this.timer);
    this.saving = this.doSave(options);
    const ok = await this.saving;
    this.saving = null;
    return ok;
  }

  async doSave({ revision } = {}) {
    await this.capture();
    const started = performance.now();
    this.status("Saving and checking…");
    const response = await fetch(this.saveUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": this.csrf },
      body: JSON.stringify({ files: this.files, revision: revision ?? this.revision }),
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({}));
    if (response.status === 409) {
      this.showConflict(body);
      return false;
    }
    if (response.status === 422) {
      this.status("Not saved: the file was refused");
      this.renderChecks({ problems: body.problems || [], scenarios: [], passed: false });
      return false;
    }
    if (!response.ok) {
      this.status(`Not saved (${response.status}): ${body.error || "try again"}`);
      return false;
    }
    this.dirty = false;
    this.state = body;
    this.revision = body.revision;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.root.dataset.lastCheckSeconds = seconds;
    this.status(`Saved revision ${body.revision}; checks ${body.passed ? "pass" : "do not pass"} (${seconds} s)`);
    document.getElementById("approve-revision")?.setAttribute("value", String(body.revision));
    const state = document.getElementById("draft-state");
    if (state) state.textContent = body.state;
    this.renderChecks(body);
    this.renderDiff(body.diff || []);
    this.root.dataset.revision = String(body.revision);
    return true;
  }

  clearMarks() {
    const canvas = this.bpmn.get("canvas");
    const overlays = this.bpmn.get("overlays");
    overlays.remove({ type: "app-studio-problem" });
    this.badged = new Set();
    for (const [id, marker] of this.marked) canvas.removeMarker(id, marker);
    this.marked = [];
  }

  mark(id, marker, title) {
    const registry = this.bpmn.get("elementRegistry");
    const element = registry.get(id);
    if (!element) return false;
    this.bpmn.get("canvas").addMarker(id, marker);
    this.marked.push([id, marker]);
    if (marker === "app-studio-problem" && !this.badged.has(id)) {
      this.badged.add(id);
      const badge = el("div", { class: "app-studio-marker", title, "data-element": id }, "!");
      badge.addEventListener("click", () => this.select(id));
      this.bpmn.get("overlays").add(id, "app-studio-problem", { position: { top: -10, right: 10 }, html: badge });
    }
    return true;
  }

  select(id) {
    const element = this.bpmn.get("elementRegistry").get(id);
    if (!element) return;
    this.bpmn.get("selection").select(element);
    this.bpmn.get("canvas").scrollToElement(element);
  }

  renderChecks(result) {
    if (this.current && this.current.endsWith(".dmn")) return;
    this.clearMarks();
    const list = document.getElementById("problems");
    list.replaceChildren();
    for (const problem of result.problems || []) {
      const item = el("li", { "data-element": problem.element_id || "" });
      item.append(el("span", {}, problem.text || problem.message));
      if (problem.element_id && this.mark(problem.element_id, "app-studio-problem", problem.message)) {
        const show = el("button", { type: "button", class: "govuk-button govuk-button--secondary govuk-!-margin-left-2 govuk-!-margin-bottom-0" }, "Show");
        show.addEventListener("click", () => this.select(problem.element_id));
        item.append(show);
      }
      list.append(item);
    }
    if (!list.children.length) list.append(el("li", { class: "app-studio-none" }, "No problems."));
    const scenarios = document.getElementById("scenarios");
    scenarios.replaceChildren();
    for (const scenario of result.scenarios || []) {
      const kind = scenario.passed ? "app-studio-passed" : scenario.statutory ? "app-studio-failed" : "app-studio-warning";
      const item = el("li", { class: kind, "data-scenario": scenario.name });
      const label = scenario.statutory ? "Statutory" : "Local";
      const verdict = scenario.passed ? "passes" : scenario.statutory ? "FAILS: this draft cannot be approved" : "fails (a warning)";
      item.append(el("strong", {}, `${label} scenario ${scenario.name} ${verdict}`));
      if (!scenario.passed) {
        item.append(el("p", { class: "govuk-body-s" }, `Expected: ${scenario.expected}`));
        item.append(el("p", { class: "govuk-body-s" }, `The draft took: ${scenario.taken}`));
        item.append(el("p", { class: "govuk-body-s" }, scenario.message));
        for (const id of scenario.element_ids || []) {
          if (this.mark(id, "app-studio-problem", `${scenario.name}: ${scenario.message}`)) {
            const show = el("button", { type: "button", class: "govuk-button govuk-button--secondary govuk-!-margin-bottom-0" }, `Show ${id}`);
            show.addEventListener("click", () => this.select(id));
            item.append(show);
          }
        }
      }
      scenarios.append(item);
    }
    const failed = (result.scenarios || []).filter((s) => s.statutory && !s.passed).length;
    const summary = document.getElementById("check-summary");
    summary.textContent = result.passed
      ? `Checks pass: no problems, ${(result.scenarios || []).length} scenarios run.`
      : `Checks do not pass: ${(result.problems || []).length} problems, ${failed} statutory scenarios failed.`;
    summary.dataset.passed = String(Boolean(result.passed));
  }

  renderDiff(changes) {
    const list = document.getElementById("diff");
    list.replaceChildren();
    for (const change of changes) {
      list.append(el("li", { class: `app-studio-diff--${change.kind}` }, change.text));
      if (change.element_id && !(this.current || "").endsWith(".dmn")) {
        const registry = this.bpmn.get("elementRegistry");
        if (registry.get(change.element_id)) {
          this.bpmn.get("canvas").addMarker(change.element_id, `app-studio-changed-${change.kind}`);
          this.marked.push([change.element_id, `app-studio-changed-${change.kind}`]);
        }
      }
    }
    if (!changes.length) list.append(el("li", {}, "No change yet."));
  }

  showConflict(body) {
    this.conflict = body;
    const box = document.getElementById("conflict");
    box.classList.remove("app-studio__hidden");
    document.getElementById("conflict-text").textContent = body.error?.message || body.error || "";
    const files = document.getElementById("conflict-files");
    files.replaceChildren();
    const theirs = body.theirs?.files || {};
    for (const name of new Set([...Object.keys(theirs), ...Object.keys(this.files)])) {
      const same = theirs[name] === this.files[name];
      const item = el("li", {}, `${name}: ${same ? "the same in both" : "differs"} `);
      for (const [label, text] of [["theirs", theirs[name]], ["yours", this.files[name]]]) {
        if (text === undefined || same) continue;
        const link = el("a", { class: "govuk-link govuk-!-margin-left-2", download: `${label}-${name}` }, `download ${label}`);
        link.href = URL.createObjectURL(new Blob([text], { type: "application/xml" }));
        item.append(link);
      }
      files.append(item);
    }
    this.status(`Not saved: ${body.theirs?.saved_by || "someone"} saved revision ${body.theirs?.revision} meanwhile`);
  }

  async takeTheirs() {
    const theirs = this.conflict?.theirs;
    if (!theirs) return;
    this.files = { ...theirs.files };
    this.revision = theirs.revision;
    this.dirty = false;
    document.getElementById("conflict").classList.add("app-studio__hidden");
    const name = this.current;
    this.current = null;
    this.importing = true;
    await this.open(name);
    this.importing = false;
    this.status(`Loaded revision ${theirs.revision}`);
  }

  async keepMine() {
    const theirs = this.conflict?.theirs;
    if (!theirs) return;
    document.getElementById("conflict").classList.add("app-studio__hidden");
    this.revision = theirs.revision;
    await this.save();
  }

  async replaceFile(event) {
    const file = event.target.files?.[0];
    if (!file) return;
    const bytes = new Uint8Array(await file.arrayBuffer());
    // Let the server decode whatever encoding the file declares: send it as Latin-1 safe text
    // only when it is UTF-8; otherwise it is refused with a message naming the problem.
    const text = new TextDecoder(detectEncoding(bytes)).decode(bytes);
    this.files[file.name] = text.replace(/encoding=["'][^"']+["']/, 'encoding="UTF-8"');
    this.renderTabs();
    const name = file.name;
    this.current = null;
    await this.open(name);
    this.dirty = true;
    await this.save();
  }

  async beforeSubmit(event) {
    if (!this.dirty && !this.saving) return;
    event.preventDefault();
    if (await this.save()) event.target.submit();
  }
}

// The encoding an XML file declares (or marks with a byte-order mark), for TextDecoder.
function detectEncoding(bytes) {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  const head = new TextDecoder("latin1").decode(bytes.slice(0, 200));
  const match = head.match(/encoding=["']([^"']+)["']/);
  return match ? match[1].toLowerCase() : "utf-8";
}
