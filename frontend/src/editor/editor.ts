// The lab page's editor: the lab's document drawn on the canvas, the side panel, and saving.
// What a person does with it lives in parts that boot.ts makes around it: editing (palette,
// connect, fields, undo), running (deploy, controls, trace, capture, console) and the live
// state. The core knows none of them; they add to the panel and follow selections through hooks.
import type { Core } from "cytoscape";
import { type ApiError, labApi, type Problem } from "../api";
import { type AssignedAddresses, type AssignedPorts, type Gateways, type Instances, appOf, createCanvas, elements, fitContainer, markProblems, runLayout, showEnds } from "../canvas";
import { ExerciseBox } from "../exercise";
import { $ } from "../dom";
import { LabJobs } from "../jobs";
import { emptyState, paint, type LiveState } from "../live";
import { MessageLine } from "../messageline";
import type { LabModel } from "../model";
import { type CniResult, esc, renderPanel, type Selection, type Spans } from "../panel";
import { EditRules } from "../rules";
import { SharePanel } from "../share";

/** What the lab was given by its deploys, as the lab API returns it. */
export interface Given {
  updated?: string; // when the document was stored
  assigned_ports?: AssignedPorts; assigned_addresses?: AssignedAddresses; gateways?: Gateways; spans?: Spans;
  cni?: Record<string, CniResult>; instances?: Instances;
}

export class Editor {
  cy: Core;
  model!: LabModel;
  api: ReturnType<typeof labApi>;
  line: MessageLine; // the message line under the toolbar
  jobs: LabJobs; // what the page asks of the lab host
  share: SharePanel;
  exercise: ExerciseBox | null = null; // a student's lab for an exercise
  rules = new EditRules(); // what the exercise lets a student change
  socketUp = false; // the lab's socket is open (the live state says so)
  send: (message: object) => void = () => undefined; // to the lab's socket, once it is open
  /** Called after the panel is drawn, and when the selection changes (the parts' own views). */
  readonly panelHooks: ((selection: Selection) => void)[] = [];
  readonly selectHooks: ((selection: Selection) => void)[] = [];

  problems: Problem[] = [];
  conflicts = new Map<string, string>(); // element id -> the name someone wanted for it
  selection: Selection = null;
  live: LiveState = emptyState();
  ports: AssignedPorts = {}; // host ports handed out for `auto` ports
  addresses: AssignedAddresses = {}; // addresses handed out, by node:iface and container
  gateways: Gateways = {}; // default routes `gateway: auto` gave hosts
  spans: Spans = {}; // where each node runs, when the lab spans lab hosts
  cni: Record<string, CniResult> = {}; // each CNI-networked container's chain result, from its last deploy
  instances: Instances = {}; // the orchestrator's app instances -> the agent each is placed on
  ends = true; // interface names and addresses shown at the cable ends
  refused = ""; // why the last change was not saved (the canvas shows what is stored)
  stored = 0; // when the document shown was stored (ms): a newer one is read again
  version = ""; // the stored document's version this page's edits are based on (sent with a save)
  private saving: Promise<void> = Promise.resolve(); // the save on its way, which the next waits for
  pending = false; // an edit not yet checked and saved
  private saveTimer = 0;
  private presentTimer = 0;

  /** `watching`: a course's teacher sees the student's lab read-only (no edits, no controls). */
  constructor(readonly labId: number, attemptId?: number, me = "", readonly watching = false) {
    this.api = labApi(labId);
    this.line = new MessageLine($("#message"), me);
    this.cy = createCanvas($("#canvas"));
    this.jobs = new LabJobs(this.api, this.line, $("#captures"), () => this.socketUp);
    this.share = new SharePanel(labId, $("#panel"), () => this.renderPanel());
    if (attemptId) this.exercise = new ExerciseBox(attemptId, $("#exercise"), this.cy, (m, k) => this.message(m, k));
  }

  message(text: string, kind: "error" | "info" = "info"): void {
    this.line.say(text, kind);
  }

  /** What the lab was given (from a lab as the API returns it): host ports and addresses. */
  absorb(lab: Given): void {
    if (lab.updated) this.stored = Math.max(this.stored, Date.parse(lab.updated));
    this.ports = lab.assigned_ports ?? {};
    this.addresses = lab.assigned_addresses ?? {};
    this.gateways = lab.gateways ?? {};
    this.spans = lab.spans ?? {};
    this.cni = lab.cni ?? {};
    this.instances = lab.instances ?? {};
  }

  // Drawing ---------------------------------------------------------------------------

  /** Draw the document; with `layoutIfNeeded`, lay out a lab whose nodes have no positions
   *  (resolves when that is done). */
  draw(layoutIfNeeded = false): Promise<void> {
    const selected = this.cy.$(":selected").map((e) => e.id());
    const positions = new Map(this.cy.nodes().map((n) => [n.id(), { ...n.position() }]));
    this.cy.elements().remove();
    this.cy.add(elements(this.model.doc, this.ports, this.addresses, this.gateways, this.instances));
    showEnds(this.cy, this.ends);
    this.cy.nodes().forEach((n) => {
      if (!n.isParent() && positions.has(n.id()) && !this.model.doc.nodes?.[n.data("name")]?.position) n.position(positions.get(n.id())!);
    });
    for (const id of selected) this.cy.getElementById(id).select();
    const unplaced = this.cy.nodes().filter((n) => !n.isParent() && n.position().x === 0 && n.position().y === 0);
    const laidOut = layoutIfNeeded && unplaced.length > 1 ? runLayout(this.cy, false) : Promise.resolve();
    markProblems(this.cy, this.problems);
    for (const [id, wanted] of this.conflicts) {
      this.cy.getElementById(id).addClass("problem");
      this.cy.getElementById(`n:${wanted}`).union(this.cy.getElementById(`net:${wanted}`)).addClass("problem");
    }
    for (const name of this.rules.locked) { // said on the diagram itself: "h1 · locked"
      const node = this.cy.getElementById(`n:${name}`);
      const [first, ...rest] = String(node.data("label") ?? name).split("\n");
      node.addClass("locked").data("label", [`${first} · locked`, ...rest].join("\n"));
      fitContainer(node);
    }
    paint(this.cy, this.live);
    this.renderPanel();
    return laidOut;
  }

  /** Fit the diagram into the canvas, left of the minimap in its corner (never under it). */
  fit(): void {
    const margin = 30;
    const width = this.cy.width() - ($("#minimap")?.offsetWidth ?? 0) - 2 * margin;
    const box = this.cy.elements().boundingBox({});
    if (!this.cy.elements().length || width <= 0 || box.w === 0) return void this.cy.fit(undefined, margin);
    const zoom = Math.min(width / box.w, (this.cy.height() - 2 * margin) / box.h, 1.5);
    this.cy.zoom(zoom);
    this.cy.pan({ x: margin - box.x1 * zoom, y: (this.cy.height() - box.h * zoom) / 2 - box.y1 * zoom });
  }

  toggleEnds(): void {
    this.ends = !this.ends;
    $("#ends").setAttribute("aria-pressed", String(this.ends));
    showEnds(this.cy, this.ends);
  }

  /** What the owner shows, for viewers of a presenting share link (at most ~10 a second). */
  present(): void {
    if (!this.share.presenting || this.presentTimer) return;
    this.presentTimer = window.setTimeout(() => {
      this.presentTimer = 0;
      const { x1, y1, x2, y2 } = this.cy.extent();
      const selected = this.cy.$(":selected").map((e) => e.id()).slice(0, 50);
      this.send({ type: "present", extent: { x1, y1, x2, y2 }, selected });
    }, 100);
  }

  // The side panel --------------------------------------------------------------------

  renderPanel(force = true): void {
    if (this.share.isOpen) return;
    const panel = $("#panel");
    // live updates wait while someone types in the panel (a field would lose its text), not
    // while a button just pressed holds the focus (a pulled cable's panel must say so)
    const typing = document.activeElement?.closest("input, textarea, select");
    if (!force && typing && panel.contains(typing)) return;
    panel.innerHTML = renderPanel(this.model.doc, this.selection, this.live, this.problems, this.conflicts, this.ports, this.addresses,
      this.spans, this.cni, this.gateways, this.instances);
    if (this.refused) panel.insertAdjacentHTML("afterbegin", `<div class="refused" role="alert"><b>Not saved:</b> ${esc(this.refused)}
      <span class="muted">(the diagram shows what is stored)</span></div>`);
    const selected = this.selection;
    if (this.watching) panel.querySelectorAll<HTMLInputElement>("[data-field], [data-impair], #panel .trace input, #panel .trace select")
      .forEach((input) => (input.disabled = true));
    else if (selected?.type === "node" && this.rules.isLocked(selected.name)) {
      panel.querySelectorAll<HTMLInputElement>("[data-field]").forEach((input) => (input.disabled = true));
      panel.querySelector("h2")?.insertAdjacentHTML("afterend",
        `<p class="locked-note">Locked by the exercise: ${esc(selected.name)} cannot be changed (it can be moved).</p>`);
    }
    for (const hook of this.panelHooks) hook(selected);
  }

  /** The lab's status on the badge and the band over the diagram. */
  showStatus(status: string, reason: string): void {
    const badge = $("#status");
    badge.textContent = status;
    badge.className = `status ${status}`;
    badge.title = reason;
    $("#workspace").dataset.status = status;
    $("#status-reason").textContent = reason;
  }

  /** Show `selection` in the panel; with `adding` (Shift held), the elements selected before stay
   *  selected (two nodes, then Connect, joins them). */
  select(selection: Selection, adding = false): void {
    this.share.close();
    this.selection = selection;
    for (const hook of this.selectHooks) hook(selection);
    if (!adding) { // with Shift the canvas adds the tapped element to what is selected itself
      this.cy.elements().unselect();
      if (selection?.type === "node") this.cy.getElementById(`n:${selection.name}`).select();
      if (selection?.type === "network") this.cy.getElementById(`net:${selection.name}`).select();
      if (selection?.type === "app") { // the app and its instances on their agents
        this.cy.getElementById(`app:${selection.name}`).select();
        this.cy.nodes().filter((n) => appOf(this.model.doc, String(n.data("name") ?? "")) === selection.name
          && n.id().startsWith("n:")).select();
      }
    }
    this.renderPanel();
  }

  /** Select and show the element a problem's path names (`nodes.r1.interfaces.eth0`). */
  goTo(path: string): void {
    const match = path.match(/^(nodes|networks)\.([^.[]+)|^links\[(\d+)\]/);
    if (!match) return;
    const selection: Selection = match[3] !== undefined ? { type: "link", index: Number(match[3]) }
      : match[1] === "nodes" ? { type: "node", name: match[2] } : { type: "network", name: match[2] };
    const id = selection.type === "link" ? `l:${selection.index}` : selection.type === "node" ? `n:${selection.name}` : `net:${selection.name}`;
    const element = this.cy.getElementById(id);
    if (element.empty()) return;
    this.select(selection);
    if (selection.type === "link") element.select();
    this.cy.animate({ center: { eles: element }, duration: 200 });
  }

  /** Jump to a node or network by name (the Find box). */
  find(name: string): boolean {
    const wanted = name.trim();
    const nodes = this.model.doc.nodes ?? {};
    const networks = this.model.doc.networks ?? {};
    const exact = wanted in nodes ? `nodes.${wanted}` : wanted in networks ? `networks.${wanted}` : null;
    const prefix = Object.keys(nodes).find((n) => n.toLowerCase().startsWith(wanted.toLowerCase()));
    const path = exact ?? (wanted && prefix ? `nodes.${prefix}` : null);
    if (!path) {
      this.message(`no node or network named '${wanted}'`, "error");
      return false;
    }
    this.goTo(path);
    const element = this.cy.$(":selected");
    if (this.cy.zoom() < 0.8) this.cy.animate({ zoom: { level: 1, position: element.position() }, duration: 200 });
    return true;
  }

  // Saving ----------------------------------------------------------------------------

  /** An edit was made to the model: refused at once if the exercise does not allow it (the
   *  canvas goes back to what it was), else drawn and saved. */
  changed(): void {
    const before = this.model.previous();
    const refusal = before && this.rules.refusal(before, this.model.doc);
    if (refusal) {
      this.model.revert();
      this.refuse(refusal);
      return;
    }
    this.drawAndSave();
  }

  /** The document changed for good (an accepted edit, undo, redo): draw it and save it. */
  drawAndSave(): void {
    if (this.refused) this.message(""); // the refusal no longer holds
    this.refused = "";
    this.draw();
    this.scheduleSave();
  }

  /** Say why a change was not saved, where the user looks, and show what is stored. */
  refuse(sentence: string): void {
    this.refused = sentence;
    this.message(`not saved: ${sentence}`, "error");
    this.draw();
  }

  scheduleSave(): void {
    this.pending = true;
    this.saveState("editing…", "ok");
    window.clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => this.check(true), 250);
  }

  private saveState(text: string, look: "ok" | "bad", title = ""): void {
    $("#save-state").textContent = text;
    $("#save-state").className = look;
    $("#save-state").title = title;
  }

  /** Validate the document as it is; save it when it has no errors. */
  async check(save: boolean): Promise<void> {
    try {
      this.problems = (await this.api.validate(this.model.doc)).problems;
    } catch (error) {
      this.problems = (error as ApiError).body?.problems ?? [];
    }
    const errors = this.problems.filter((p) => p.severity === "error").length + this.conflicts.size;
    // short, so that the toolbar stays one row: the count is in its title and the panel lists them
    this.saveState(errors ? "not saved" : save ? "saving…" : "saved", errors ? "bad" : "ok",
      errors ? `${errors} problem${errors > 1 ? "s" : ""}: fix ${errors > 1 ? "them" : "it"} to save (listed in the panel)` : "");
    if (save && !errors) {
      // one save at a time: the next is based on the version the one before stored
      const before = this.saving;
      let done = () => {};
      this.saving = new Promise<void>((resolve) => { done = resolve; });
      await before;
      try {
        const saved = await this.api.save(this.model.doc, this.version);
        this.absorb(saved);
        this.version = saved.document_version ?? ""; // what this page stored
        this.saveState("saved", "ok");
      } catch (error) {
        done();
        // refused by the server: what it said, and the canvas back to what is stored (whose
        // problems are then checked as for any document)
        this.pending = false;
        this.refuse((error as Error).message);
        const stored = await this.api.document().catch(() => null);
        if (stored) {
          this.version = stored.version;
          this.model.reset(stored.doc);
          return this.check(false);
        }
        return this.saveState("not saved", "bad");
      }
      done();
    }
    if (save) this.pending = false;
    this.draw();
  }

  /** The document was stored again elsewhere (another page, the API, a docker command typed in
   *  the lab): show what is stored now, unless an edit of this page is on its way. */
  async storedElsewhere(version: string): Promise<void> {
    if (!(Date.parse(version) > this.stored) || this.pending) return;
    const [stored, lab] = await Promise.all([this.api.document(), this.api.get()]);
    if (this.pending) return;
    this.absorb(lab);
    this.version = stored.version;
    this.model.reset(stored.doc);
    if (this.watching) return void this.draw(); // a watcher only looks: nothing to check
    await this.check(false);
  }

  hasErrors(): boolean {
    return this.conflicts.size > 0 || this.problems.some((p) => p.severity === "error");
  }
}
