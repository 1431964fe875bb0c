// The lab page: canvas, palette, side panel, live state, deploy, consoles.
import type { Core, NodeSingular } from "cytoscape";
import cytoscape from "cytoscape";
import svg from "cytoscape-svg";
import { ApiError, csrfToken, labApi, type Problem } from "./api";
import { type AssignedAddresses, type AssignedPorts, createCanvas, elements, markProblems, runLayout, showEnds, tuneForSize } from "./canvas";
import { type PaletteItem, addItem, connect, palette, parsePorts } from "./edits";
import { Dashboard } from "./dashboard";
import { ExerciseBox } from "./exercise";
import { kindOf, loadKinds } from "./kinds";
import { type Journey, type Stop, animate, clearJourney, journeyHtml, stops } from "./journey";
import { LiveConnection, emptyState, paint, type LiveState } from "./live";
import { Minimap } from "./minimap";
import { LabModel } from "./model";
import { esc, natHtml, renderPanel, type Selection, type Spans } from "./panel";
import { SharePanel } from "./share";
import { commandFrom } from "./shellwords";
import { LabJobs } from "./jobs";
import { MessageLine } from "./messageline";
import { EditRules } from "./rules";
import { ConsoleWatch, NodeConsole } from "./terminal";
import { Viewer } from "./viewer";

cytoscape.use(svg);

const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector(selector) as T;

class Editor {
  cy: Core;
  model!: LabModel;
  api: ReturnType<typeof labApi>;
  line: MessageLine; // the message line under the toolbar
  jobs: LabJobs; // what the page asks of the lab host
  problems: Problem[] = [];
  conflicts = new Map<string, string>(); // element id -> the name someone wanted for it
  selection: Selection = null;
  live: LiveState = emptyState();
  console: NodeConsole | null = null;
  connectFrom: string | null = null;
  private saveTimer = 0;
  pending = false; // an edit not yet checked and saved
  private operation: number | null = null;
  private connection: LiveConnection | null = null;
  private items: PaletteItem[] = [];
  share: SharePanel;
  ports: AssignedPorts = {}; // host ports handed out for `auto` ports
  addresses: AssignedAddresses = {}; // addresses handed out, by node:iface and container
  spans: Spans = {}; // where each node runs, when the lab spans lab hosts
  cni: Record<string, any> = {}; // each CNI-networked container's chain result, from its last deploy
  lastStatus = ""; // the lab's status as last shown
  ends = true; // interface names and addresses shown at the cable ends
  private presentTimer = 0;
  exercise: ExerciseBox | null = null; // a student's lab for an exercise
  rules = new EditRules(); // what the exercise lets a student change
  refused = ""; // why the last change was not saved (the canvas shows what is stored)
  natView: { node: string; view: any; when: string } | null = null; // the NAT table last read
  journey: { node: string; journey: Journey; walk: Stop[]; at: number } | null = null; // the last trace
  traceInput = { target: "", protocol: "icmp", port: "" }; // what the trace form last held

  constructor(private labId: number, attemptId?: number, me = "") {
    this.api = labApi(labId);
    this.line = new MessageLine($("#message"), me);
    this.jobs = new LabJobs(this.api, this.line, $("#captures"));
    this.cy = createCanvas($("#canvas"));
    this.share = new SharePanel(labId, $("#panel"), () => this.renderPanel());
    if (attemptId) this.exercise = new ExerciseBox(attemptId, $("#exercise"), this.cy, (m, k) => this.message(m, k));
  }

  async start(): Promise<void> {
    await loadKinds();
    await this.exercise?.load();
    this.rules = EditRules.of(this.exercise?.exercise.rules);
    this.model = new LabModel(await this.api.document());
    this.absorb(await this.api.get());
    this.ends = Object.keys(this.model.doc.nodes ?? {}).length <= 60; // big labs: on demand
    $("#ends").setAttribute("aria-pressed", String(this.ends));
    await this.draw(true);
    tuneForSize(this.cy);
    this.cy.resize();
    new Minimap(this.cy, $("#workspace"));
    this.fit(); // left of the minimap
    this.palette();
    this.toolbar();
    this.canvasEvents();
    this.panelEvents();
    this.keyboard();
    this.connection = new LiveConnection({
      path: `/ws/labs/${this.labId}/`,
      onChange: (state) => this.onLive(state),
      onLink: (up) => this.onSocket(up),
      onOperation: (op) => this.onOperation(op),
      onOther: (message) => this.exercise?.onMessage(message),
    });
    this.connection.open();
    await this.check(false);
    await this.share.load();
    this.cy.on("viewport select unselect", () => this.present());
    performance.mark("wirelab:interactive"); // the page answers edits from here (bench/editor_load.py)
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

  /** What the owner shows, for viewers of a presenting share link (at most ~10 a second). */
  present(): void {
    if (!this.share.presenting || this.presentTimer) return;
    this.presentTimer = window.setTimeout(() => {
      this.presentTimer = 0;
      const { x1, y1, x2, y2 } = this.cy.extent();
      const selected = this.cy.$(":selected").map((e) => e.id()).slice(0, 50);
      this.connection?.send({ type: "present", extent: { x1, y1, x2, y2 }, selected });
    }, 100);
  }

  /** What the lab was given (from a lab as the API returns it): host ports and addresses. */
  absorb(lab: { assigned_ports?: AssignedPorts; assigned_addresses?: AssignedAddresses; spans?: Spans; cni?: Record<string, any> }): void {
    this.ports = lab.assigned_ports ?? {};
    this.addresses = lab.assigned_addresses ?? {};
    this.spans = lab.spans ?? {};
    this.cni = lab.cni ?? {};
  }

  // Drawing ---------------------------------------------------------------------------

  /** Draw the document; with `layoutIfNeeded`, lay out a lab whose nodes have no positions
   *  (resolves when that is done). */
  draw(layoutIfNeeded = false): Promise<void> {
    const selected = this.cy.$(":selected").map((e) => e.id());
    const positions = new Map(this.cy.nodes().map((n) => [n.id(), { ...n.position() }]));
    this.cy.elements().remove();
    this.cy.add(elements(this.model.doc, this.ports, this.addresses));
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
    }
    paint(this.cy, this.live);
    this.renderPanel();
    return laidOut;
  }

  renderPanel(force = true): void {
    if (this.share.isOpen) return;
    const panel = $("#panel");
    // live updates wait while someone types in the panel (a field would lose its text), not
    // while a button just pressed holds the focus (a pulled cable's panel must say so)
    const typing = document.activeElement?.closest("input, textarea, select");
    if (!force && typing && panel.contains(typing)) return;
    panel.innerHTML = renderPanel(this.model.doc, this.selection, this.live, this.problems, this.conflicts, this.ports, this.addresses,
      this.spans, this.cni);
    if (this.refused) panel.insertAdjacentHTML("afterbegin", `<div class="refused" role="alert"><b>Not saved:</b> ${esc(this.refused)}
      <span class="muted">(the diagram shows what is stored)</span></div>`);
    const selected = this.selection;
    if (selected?.type === "node" && this.rules.isLocked(selected.name)) {
      panel.querySelectorAll<HTMLInputElement>("[data-field]").forEach((input) => (input.disabled = true));
      panel.querySelector("h2")?.insertAdjacentHTML("afterend",
        `<p class="locked-note">Locked by the exercise: ${esc(selected.name)} cannot be changed (it can be moved).</p>`);
    }
    const nat = this.natView;
    if (nat && this.selection?.type === "node" && this.selection.name === nat.node && $("#nat-view")) {
      $("#nat-view").innerHTML = natHtml(nat.node, nat.view, nat.when);
    }
    if ($("#trace-target")) {
      ($("#trace-target") as HTMLInputElement).value = this.traceInput.target;
      ($("#trace-protocol") as HTMLSelectElement).value = this.traceInput.protocol;
      ($("#trace-port") as HTMLInputElement).value = this.traceInput.port;
    }
    const trace = this.journey;
    if (trace && this.selection?.type === "node" && this.selection.name === trace.node && $("#trace-view")) {
      $("#trace-view").innerHTML = journeyHtml(trace.journey, trace.walk);
      this.markStop(trace.at);
    }
  }

  message(text: string, kind: "error" | "info" = "info"): void {
    this.line.say(text, kind);
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
    $("#save-state").textContent = "editing…";
    window.clearTimeout(this.saveTimer);
    this.saveTimer = window.setTimeout(() => this.check(true), 250);
  }

  /** Validate the document as it is; save it when it has no errors. */
  async check(save: boolean): Promise<void> {
    try {
      const result = await this.api.validate(this.model.doc);
      this.problems = result.problems;
    } catch (error) {
      this.problems = (error as ApiError).body?.problems ?? [];
    }
    const errors = this.problems.filter((p) => p.severity === "error").length + this.conflicts.size;
    $("#save-state").textContent = errors ? `${errors} problem${errors > 1 ? "s" : ""}: not saved` : save ? "saving…" : "saved";
    $("#save-state").className = errors ? "bad" : "ok";
    if (save && !errors) {
      try {
        this.absorb(await this.api.save(this.model.doc));
        $("#save-state").textContent = "saved";
      } catch (error) {
        // refused by the server: what it said, and the canvas back to what is stored (whose
        // problems are then checked as for any document)
        this.pending = false;
        this.refuse((error as Error).message);
        const stored = await this.api.document().catch(() => null);
        if (stored) {
          this.model.reset(stored);
          return this.check(false);
        }
        $("#save-state").textContent = "not saved";
        $("#save-state").className = "bad";
        return;
      }
    }
    if (save) this.pending = false;
    this.draw();
  }

  hasErrors(): boolean {
    return this.conflicts.size > 0 || this.problems.some((p) => p.severity === "error");
  }

  // Palette and canvas ----------------------------------------------------------------

  palette(): void {
    const box = $("#palette");
    this.items = palette().filter((item) => item.network || this.rules.allowsKind(item.kind));
    box.innerHTML = this.items.map((item, i) => `<div class="item ${item.kind}" draggable="true" data-index="${i}" tabindex="0" role="button"
      title="Drag onto the canvas, or press Enter to add">${item.label}</div>`).join("");
    box.addEventListener("keydown", (event) => {
      const index = (event.target as HTMLElement).dataset.index;
      if (index === undefined || (event.key !== "Enter" && event.key !== " ")) return;
      event.preventDefault();
      this.drop(Number(index), null);
    });
    box.addEventListener("dragstart", (event) => {
      const target = event.target as HTMLElement;
      event.dataTransfer!.setData("text/wirelab-palette", target.dataset.index ?? "");
    });
    box.addEventListener("dblclick", (event) => {
      const index = (event.target as HTMLElement).dataset.index;
      if (index === undefined) return;
      this.drop(Number(index), null);
    });
    const canvas = $("#canvas");
    canvas.addEventListener("dragover", (event) => event.preventDefault());
    canvas.addEventListener("drop", (event) => {
      event.preventDefault();
      const index = event.dataTransfer!.getData("text/wirelab-palette");
      if (index === "") return;
      const rect = canvas.getBoundingClientRect();
      this.drop(Number(index), { x: event.clientX - rect.left, y: event.clientY - rect.top });
    });
  }

  /** A free spot near the middle of the view, for items added without a drop point. */
  freeSpot(): { x: number; y: number } {
    const extent = this.cy.extent();
    const center = { x: (extent.x1 + extent.x2) / 2, y: (extent.y1 + extent.y2) / 2 };
    const taken = (x: number, y: number) =>
      this.cy.nodes().some((n) => {
        const b = n.boundingBox({});
        return x > b.x1 - 50 && x < b.x2 + 50 && y > b.y1 - 40 && y < b.y2 + 40;
      });
    for (let ring = 0; ring < 12; ring++) {
      for (let step = 0; step < Math.max(1, ring * 8); step++) {
        const angle = (2 * Math.PI * step) / Math.max(1, ring * 8);
        const x = center.x + ring * 150 * Math.cos(angle);
        const y = center.y + ring * 110 * Math.sin(angle);
        if (!taken(x, y)) return { x: Math.round(x), y: Math.round(y) };
      }
    }
    return center;
  }

  /** Add a palette item where it was dropped (rendered coordinates, or null for a free spot);
   *  a container lands in the host under it. */
  drop(index: number, rendered: { x: number; y: number } | null): void {
    const item = this.items[index];
    const kind = kindOf({ kind: item.kind });
    const zoom = this.cy.zoom();
    const pan = this.cy.pan();
    let position = rendered
      ? { x: Math.round((rendered.x - pan.x) / zoom), y: Math.round((rendered.y - pan.y) / zoom) }
      : this.freeSpot();
    let host: string | undefined;
    if (kind.placed_on_host) {
      const under = this.cy.nodes(".holder").filter((n) => {
        const box = n.boundingBox({});
        return position.x >= box.x1 && position.x <= box.x2 && position.y >= box.y1 && position.y <= box.y2;
      });
      const hosts = Object.entries(this.model.doc.nodes ?? {}).filter(([, n]) => kindOf(n).holds_containers).map(([n]) => n);
      host = under.length ? under[0].data("name") : hosts.length === 1 ? hosts[0] : undefined;
      if (!host) {
        this.message("drop a container onto a host", "error");
        return;
      }
      if (!rendered || !under.length) {
        const nodes = this.model.doc.nodes ?? {};
        const siblings = Object.values(nodes).filter((n) => kindOf(n).placed_on_host && n.host === host);
        const anchor = siblings[0]?.position ?? nodes[host!].position ?? this.cy.getElementById(`n:${host}`).position();
        const i = siblings.length;
        position = { x: Math.round(anchor.x + (i % 2) * 90), y: Math.round(anchor.y + Math.floor(i / 2) * 55) };
      }
    }
    const name = addItem(this.model, item, position, host);
    this.select(item.network ? { type: "network", name } : { type: "node", name });
    this.changed();
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

  /** Show `selection` in the panel; with `adding` (Shift held), the elements selected before stay
   *  selected (two nodes, then Connect, joins them). */
  select(selection: Selection, adding = false): void {
    this.share.close();
    this.selection = selection;
    if (this.journey && !(selection?.type === "node" && selection.name === this.journey.node)) {
      clearJourney(this.cy); // its list is in the traced node's panel: leaving it ends the walk's marks
      this.journey = null;
    }
    if (!adding) { // with Shift the canvas adds the tapped element to what is selected itself
      this.cy.elements().unselect();
      if (selection?.type === "node") this.cy.getElementById(`n:${selection.name}`).select();
      if (selection?.type === "network") this.cy.getElementById(`net:${selection.name}`).select();
    }
    this.renderPanel();
  }

  canvasEvents(): void {
    const cy = this.cy;
    (cy as any).edgehandles({
      canConnect: (source: NodeSingular, target: NodeSingular) => !source.same(target) && !source.id().startsWith("br:") && !target.id().startsWith("br:"),
      edgeParams: () => ({ data: {} }),
      hoverDelay: 150,
      snap: true,
    });
    cy.on("ehcomplete", (_event: any, source: NodeSingular, target: NodeSingular, added: any) => {
      added.remove();
      this.link(source.id(), target.id());
    });
    cy.on("tap", (event) => {
      if (event.target === cy) {
        this.connectFrom = null;
        this.select(null);
      }
    });
    cy.on("tap", "node", (event) => {
      const id = event.target.id() as string;
      if (this.connectFrom) {
        const from = this.connectFrom;
        this.connectFrom = null;
        $("#connect").classList.remove("active");
        this.link(from, id);
        return;
      }
      const adding = (event.originalEvent as MouseEvent | undefined)?.shiftKey ?? false;
      if (id.startsWith("n:")) this.select({ type: "node", name: id.slice(2) }, adding);
      else if (id.startsWith("net:")) this.select({ type: "network", name: id.slice(4) });
    });
    cy.on("tap", "edge", (event) => {
      const id = event.target.id() as string;
      if (id.startsWith("l:")) this.select({ type: "link", index: Number(id.slice(2)) });
      else if (id.startsWith("if:")) {
        const [, node, iface] = id.split(":");
        this.select({ type: "attachment", node, iface });
      }
    });
    cy.on("dragfree", "node", (event) => {
      const moved = event.target.union(event.target.descendants());
      this.model.edit((doc) => {
        moved.forEach((n: NodeSingular) => {
          const id = n.id();
          const { x, y } = n.position();
          const position = { x: Math.round(x), y: Math.round(y) };
          if (id.startsWith("n:") && !n.isParent()) doc.nodes![id.slice(2)].position = position;
          if (id.startsWith("net:")) doc.networks![id.slice(4)].position = position;
        });
      });
      this.scheduleSave();
    });
    cy.on("cxttap", "node", (event) => this.contextMenu(event.target.id(), event.originalEvent as MouseEvent));
    cy.on("mouseover", "edge", (event) => this.tooltip(event.target.data("ends"), event.originalEvent as MouseEvent));
    cy.on("mouseout", "edge", () => ($("#tooltip").style.display = "none"));
  }

  link(source: string, target: string): void {
    const problem = connect(this.model, source, target);
    if (problem) return this.message(problem, "error");
    this.message(""); // "connect pc1 to…" is done
    this.changed();
  }

  tooltip(ends: string[] | undefined, event: MouseEvent): void {
    if (!ends) return;
    const lines = ends.map((end) => {
      const c = this.live.counters[end];
      const l = this.live.links[end];
      return `${end}: ${l?.oper ?? "?"}${c ? ` · rx ${c.rx_packets} / tx ${c.tx_packets} pkts · ${Math.round((c.rx_bps + c.tx_bps) / 1000)} kbit/s` : ""}`;
    });
    const tip = $("#tooltip");
    tip.textContent = lines.join("\n");
    tip.style.display = "block";
    tip.style.left = `${event.clientX + 12}px`;
    tip.style.top = `${event.clientY + 12}px`;
  }

  contextMenu(id: string, event: MouseEvent): void {
    if (!id.startsWith("n:")) return;
    const name = id.slice(2);
    if (!this.live.nodes[name] || ["draft", "stopped"].includes(this.live.status.status)) {
      return this.message(`${name} is not running: deploy the lab for its console, restart and captures`);
    }
    const menu = $("#menu");
    const node = this.model.doc.nodes?.[name];
    const ifaces = Object.keys(node?.interfaces ?? {}).concat(
      (this.model.doc.links ?? []).flatMap((l) => l.endpoints.filter((e) => e.startsWith(`${name}:`)).map((e) => e.split(":")[1])),
    );
    menu.innerHTML = `<button data-menu="console">Console</button><button data-menu="restart">Restart</button>`
      + ifaces.map((i) => `<button data-menu="capture" data-iface="${i}">Capture on ${i}</button>`).join("");
    menu.style.display = "block";
    menu.style.left = `${event.clientX}px`;
    menu.style.top = `${event.clientY}px`;
    menu.onclick = async (click) => {
      const button = (click.target as HTMLElement).closest("button");
      menu.style.display = "none";
      if (!button) return;
      const action = button.dataset.menu;
      if (action === "console") this.openConsole(name);
      if (action === "restart") await this.jobs.control(() => this.api.nodeAction(name, "restart"), `restarting ${name}`);
      if (action === "capture") await this.jobs.capture(name, button.dataset.iface!);
    };
    document.addEventListener("click", () => (menu.style.display = "none"), { once: true });
  }

  // Side panel ------------------------------------------------------------------------

  panelEvents(): void {
    const panel = $("#panel");
    panel.addEventListener("change", (event) => {
      const input = event.target as HTMLInputElement;
      const fieldName = input.dataset.field;
      if (!fieldName || fieldName.startsWith("imp-")) return;
      this.editField(fieldName, input.value);
    });
    panel.addEventListener("click", async (event) => {
      const button = (event.target as HTMLElement).closest("button");
      if (button?.dataset.path !== undefined) return this.goTo(button.dataset.path);
      if (!button?.dataset.action) return;
      await this.panelAction(button.dataset.action);
    });
  }

  editField(fieldName: string, value: string): void {
    const selection = this.selection;
    if (!selection) return;
    if (selection.type === "link") {
      this.model.edit((doc) => { doc.links![selection.index].subnet = value || null; });
      return this.changed();
    }
    if (selection.type === "network") {
      if (fieldName === "name") return this.rename("network", selection.name, value.trim());
      this.model.edit((doc) => { (doc.networks![selection.name] as any)[fieldName] = value || null; });
      return this.changed();
    }
    if (selection.type !== "node") return;
    if (fieldName === "name") return this.rename("node", selection.name, value.trim());
    let command: string | string[] | null = null;
    if (fieldName === "command") {
      try {
        command = commandFrom(value, this.model.doc.nodes![selection.name].command as string | string[] | null);
      } catch (error) {
        return this.message(`command of ${selection.name}: ${(error as Error).message}: not saved`, "error");
      }
    }
    this.model.edit((doc) => {
      const node: any = doc.nodes![selection.name];
      if (fieldName.startsWith("address:")) node.interfaces[fieldName.slice(8)].address = value.trim() || null;
      else if (fieldName === "ports") node.ports = parsePorts(value);
      else if (fieldName === "env") node.env = Object.fromEntries(value.split("\n").filter((l) => l.includes("=")).map((l) => [l.split("=")[0].trim(), l.slice(l.indexOf("=") + 1)]));
      else if (fieldName === "exec") node.exec = value.split("\n").map((l) => l.trim()).filter(Boolean);
      else if (fieldName === "command") node.command = command;
      else if (fieldName === "routes") node.routes = value.split("\n").map((l) => l.trim().split(/\s+via\s+/)).filter((p) => p.length === 2).map(([to, via]) => ({ to, via }));
      else node[fieldName] = value || null;
    });
    this.changed();
  }

  rename(kind: "node" | "network", from: string, to: string): void {
    const id = kind === "node" ? `n:${from}` : `net:${from}`;
    const taken = to !== from && (to in (this.model.doc.nodes ?? {}) || to in (this.model.doc.networks ?? {}));
    if (!to || taken) {
      this.conflicts.set(id, to);
      const other = to in (this.model.doc.nodes ?? {}) ? `n:${to}` : `net:${to}`;
      this.cy.getElementById(other).addClass("problem");
      this.message(to ? `'${to}' is already the name of another element` : "a name is needed", "error");
      this.changed();
      return;
    }
    this.conflicts.delete(id);
    this.model.edit(() => this.model.rename(kind, from, to));
    this.selection = kind === "node" ? { type: "node", name: to } : { type: "network", name: to };
    this.changed();
  }

  async panelAction(action: string): Promise<void> {
    const selection = this.selection;
    const ends = selection?.type === "link" ? this.model.doc.links![selection.index].endpoints
      : selection?.type === "attachment" ? [`${selection.node}:${selection.iface}`] : [];
    if (action === "pull" || action === "plug") {
      for (const end of ends) {
        const [node, iface] = end.split(":");
        await this.jobs.control(() => this.api.cable(node, iface, action === "plug"), `${action === "plug" ? "plugging" : "pulling"} ${end}`);
      }
    } else if (action === "impair") {
      const value = (name: string) => Number(($(`#panel [data-field="imp-${name}"]`) as HTMLInputElement).value || 0);
      const values = { delay_ms: value("delay_ms"), jitter_ms: value("jitter_ms"), loss_pct: value("loss_pct"), rate_kbit: value("rate_kbit") };
      for (const end of ends) {
        const [node, iface] = end.split(":");
        await this.jobs.control(() => this.api.impair(node, iface, values), `impairing ${end}`);
      }
    } else if (action === "capture" && ends.length) {
      const [node, iface] = ends[0].split(":");
      await this.jobs.capture(node, iface);
    } else if (action === "console" && selection?.type === "node") this.openConsole(selection.name);
    else if (action === "nat" && selection?.type === "node") await this.readNat(selection.name);
    else if (action === "trace" && selection?.type === "node") await this.trace(selection.name);
    else if (action === "restart" && selection?.type === "node") {
      await this.jobs.control(() => this.api.nodeAction(selection.name, "restart"), `restarting ${selection.name}`);
    }
  }

  /** Ask the lab host for a host's NAT rules and connections; shown when the job is done. */
  async readNat(node: string): Promise<void> {
    const view = await this.jobs.result(() => this.api.nat(node), `NAT table of ${node}`, `reading the NAT table of ${node}…`);
    if (view === null) return;
    this.natView = { node, view, when: new Date().toLocaleTimeString() };
    this.message(`NAT table of ${node} read`);
    this.renderPanel();
  }

  /** Trace a probe from `node` as the form says; list its journey and walk it on the diagram. */
  async trace(node: string): Promise<void> {
    const target = ($("#trace-target") as HTMLInputElement).value.trim();
    const protocol = ($("#trace-protocol") as HTMLSelectElement).value;
    const port = ($("#trace-port") as HTMLInputElement).value;
    this.traceInput = { target, protocol, port };
    if (!target) return this.message("trace: say where to (an address, or a name the node knows)", "error");
    const journey: Journey | null = await this.jobs.result(() => this.api.trace(node, target, protocol, Number(port) || undefined),
      `trace from ${node}`, `tracing ${protocol} from ${node} to ${target}…`);
    if (journey === null) return;
    const walk = stops(journey, this.model.doc);
    this.journey = { node, journey, walk, at: -1 };
    this.message(`trace from ${node}: ${journey.outcome.result} at ${journey.outcome.at}`);
    this.renderPanel();
    await animate(this.cy, walk, journey.outcome, (index) => {
      if (this.journey?.walk === walk) this.markStop((this.journey.at = index));
    });
  }

  markStop(index: number): void {
    document.querySelectorAll("#trace-view li").forEach((li) =>
      li.classList.toggle("current", Number((li as HTMLElement).dataset.index) === index));
  }

  openConsole(node: string): void {
    this.console?.close();
    $("#bottom").classList.add("open");
    this.cy.resize();
    $("#console-title").textContent = `Console: ${node}`;
    const host = $("#terminal");
    host.innerHTML = "";
    this.console = new NodeConsole(host, this.labId, node);
  }

  // Toolbar and keyboard ----------------------------------------------------------------

  toolbar(): void {
    const on = (id: string, fn: () => void) => $(id).addEventListener("click", fn);
    on("#deploy", () => this.lifecycle("deploy"));
    on("#destroy", () => this.lifecycle("destroy"));
    on("#undo", () => this.undo());
    on("#redo", () => this.redo());
    on("#layout", () => runLayout(this.cy));
    on("#fit", () => this.fit());
    on("#ends", () => this.toggleEnds());
    const find = $<HTMLInputElement>("#find");
    find.addEventListener("focus", () => {
      const names = [...Object.keys(this.model.doc.nodes ?? {}), ...Object.keys(this.model.doc.networks ?? {})];
      $("#find-names").innerHTML = names.sort().map((n) => `<option value="${n.replace(/"/g, "&quot;")}"></option>`).join("");
    });
    find.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.find(find.value);
      if (event.key === "Escape") find.blur();
    });
    find.addEventListener("change", () => find.value && this.find(find.value));
    on("#share-open", () => {
      this.share.close();
      this.share.open().catch((error) => this.message(`cannot list share links: ${error.message}`, "error"));
    });
    on("#connect", () => {
      const selected = this.cy.$("node:selected");
      if (selected.length === 2) return this.link(selected[0].id(), selected[1].id()); // two chosen: join them
      if (!selected.length) return this.message("select the first node (or two, with Shift), then press Connect and tap the second", "error");
      this.connectFrom = selected[0].id();
      $("#connect").classList.add("active");
      this.message(`connect ${selected[0].data("name")} to…`);
    });
    on("#png", () => download(`${this.model.doc.name}.png`, this.cy.png({ full: true, scale: 2, output: "blob" }) as unknown as Blob));
    on("#svg", () => download(`${this.model.doc.name}.svg`, new Blob([(this.cy as any).svg({ full: true })], { type: "image/svg+xml" })));
    on("#close-console", () => {
      this.console?.close();
      this.console = null;
      $("#bottom").classList.remove("open", "log");
      this.cy.resize();
    });
    $("#import").addEventListener("change", async (event) => {
      const file = (event.target as HTMLInputElement).files?.[0];
      if (!file) return;
      const response = await fetch(`/api/labs/${this.labId}/document/`, {
        method: "PUT", credentials: "same-origin",
        headers: { "Content-Type": "application/yaml", "X-CSRFToken": csrfToken() },
        body: await file.text(),
      });
      const body = await response.json();
      if (!response.ok) {
        this.message(`not imported: ${(body.problems ?? []).map((p: Problem) => `${p.path}: ${p.message}`).join("; ")}`, "error");
        return;
      }
      this.model = new LabModel(await this.api.document());
      this.absorb(await this.api.get());
      await this.draw(true);
      await this.check(false);
    });
  }

  keyboard(): void {
    let clipboard: string | null = null;
    document.addEventListener("keydown", (event) => {
      const typing = (event.target as HTMLElement).closest("input, textarea, select, .xterm");
      if (typing) return;
      const ctrl = event.ctrlKey || event.metaKey;
      if (ctrl && event.key === "z" && !event.shiftKey) { event.preventDefault(); this.undo(); }
      else if (ctrl && (event.key === "y" || (event.key === "z" && event.shiftKey))) { event.preventDefault(); this.redo(); }
      else if (ctrl && event.key === "c" && this.selection?.type === "node") clipboard = this.selection.name;
      else if (ctrl && event.key === "v" && clipboard && this.model.doc.nodes?.[clipboard]) this.paste(clipboard);
      else if (event.key === "Delete" || event.key === "Backspace") this.deleteSelection();
      else if (event.key === "f") this.fit();
      else if (event.key === "a") this.toggleEnds();
      else if (event.key === "/") { event.preventDefault(); $("#find").focus(); }
      else if (event.key === "l") runLayout(this.cy);
    });
  }

  toggleEnds(): void {
    this.ends = !this.ends;
    $("#ends").setAttribute("aria-pressed", String(this.ends));
    showEnds(this.cy, this.ends);
  }

  paste(source: string): void {
    const copy = JSON.parse(JSON.stringify(this.model.doc.nodes![source]));
    const base = source.replace(/\d+$/, "");
    const name = this.model.freeName(base || "node");
    copy.interfaces = Object.fromEntries(Object.entries(copy.interfaces ?? {}).filter(([, i]: any) => i.network));
    for (const iface of Object.values(copy.interfaces) as any[]) iface.address = null;
    if (copy.position) copy.position = { x: copy.position.x + 40, y: copy.position.y + 40 };
    this.model.edit((doc) => { doc.nodes![name] = copy; });
    this.select({ type: "node", name });
    this.changed();
  }

  deleteSelection(): void {
    const selection = this.selection;
    if (!selection) return;
    this.model.edit((doc) => {
      if (selection.type === "node") this.model.removeNode(selection.name);
      if (selection.type === "network") this.model.removeNetwork(selection.name);
      if (selection.type === "link") doc.links!.splice(selection.index, 1);
      if (selection.type === "attachment") delete (doc.nodes![selection.node].interfaces as any)[selection.iface];
    });
    this.selection = null;
    this.changed();
  }

  undo(): void {
    if (this.model.undo()) this.drawAndSave();
  }

  redo(): void {
    if (this.model.redo()) this.drawAndSave();
  }

  // Life cycle and live state --------------------------------------------------------------

  async lifecycle(kind: "deploy" | "destroy"): Promise<void> {
    if (kind === "deploy" && this.hasErrors()) {
      this.message("fix the problems marked in red before deploying", "error");
      return;
    }
    const idle = ["draft", "stopped"].includes(this.live.status.status);
    if (kind === "destroy" && !idle && !confirm(`Destroy ${this.model.doc.name}? Its containers and cables are taken down `
      + "(consoles close, what the nodes wrote is lost); the lab's document stays.")) return;
    try {
      const op = kind === "deploy" ? await this.api.deploy() : await this.api.destroy();
      this.operation = op.id;
      $("#log").textContent = ""; // the drawer opens if it fails (its log says why)
      this.message(`${kind} #${op.id} queued`);
      this.follow();
    } catch (error) {
      const body = (error as ApiError).body;
      const detail = body?.problems ? body.problems.map((p: Problem) => `${p.path}: ${p.message}`).join("; ") : (error as Error).message;
      this.message(`${kind} refused: ${detail}`, "error");
    }
  }

  onOperation(op: { id: number; status: string; line: string }): void {
    if (op.id !== this.operation) return;
    if (op.line) {
      $("#log").textContent += `${op.line}\n`;
      $("#log").scrollTop = 1e9;
    }
    if (op.status === "succeeded" || op.status === "failed") this.follow();
  }

  /** The operation's whole log and outcome, read once; read again only while the socket is down. */
  async follow(): Promise<void> {
    const ops = await this.api.operations();
    const op = ops.find((o) => o.id === this.operation);
    if (!op) return;
    $("#log").textContent = op.log;
    $("#log").scrollTop = 1e9;
    if (op.status === "succeeded" || op.status === "failed") {
      if (op.status === "failed") {
        this.message(`${op.kind} failed: ${op.error}`, "error");
        $("#bottom").classList.add("open", "log");
        this.cy.resize();
      }
      const lab = await this.api.get();
      if (op.status === "succeeded") this.line.sayStatus({ status: lab.status, reason: lab.status_reason });
      this.onStatus(lab.status, lab.status_reason);
      this.absorb(lab); // what the deploy placed where (a lab spanning lab hosts)
      this.renderPanel(false);
      return;
    }
    if (!this.connection?.connected) window.setTimeout(() => this.follow(), 1000);
  }

  onStatus(status: string, reason: string): void {
    const badge = $("#status");
    badge.textContent = status;
    badge.className = `status ${status}`;
    $("#workspace").dataset.status = status;
    badge.title = reason;
    $("#status-reason").textContent = reason;
  }

  onLive(state: LiveState): void {
    const before = this.lastStatus; // the state is updated in place: its status before is kept here
    this.lastStatus = state.status.status;
    this.live = state;
    this.onStatus(state.status.status, state.status.reason);
    const troubled = state.status.status === "degraded" || state.status.status === "failed";
    if ((before && before !== state.status.status) || (!before && troubled)) this.line.sayStatus(state.status);
    if (before && before !== state.status.status && state.status.status !== "deploying") {
      // a deploy or destroy ended: what it placed where, and what the CNI plugins gave; a journey
      // traced before is history
      clearJourney(this.cy);
      this.journey = null;
      this.api.get().then((lab) => { this.absorb(lab); this.renderPanel(false); }).catch(() => undefined);
    }
    paint(this.cy, state);
    this.renderPanel(false);
  }

  onSocket(up: boolean): void {
    $("#live").textContent = up ? "live" : "reconnecting…";
    $("#live").className = up ? "ok" : "bad";
  }
}

function download(name: string, blob: Blob): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}

const viewerRoot = document.getElementById("viewer");
if (viewerRoot) {
  const viewer = new Viewer(viewerRoot);
  (window as any).wirelab = viewer;
  viewer.start().catch((error) => viewer.message(`could not open the link: ${error.message}`, "error"));
}

/** Start a page's app, if the page has its root; a failed start is said in #message. */
function boot(id: string, what: string, make: (root: HTMLElement) => { start(): Promise<void> }): void {
  const root = document.getElementById(id);
  if (!root) return;
  const app = make(root);
  (window as any).wirelab = app;
  app.start().catch((error) => {
    const bar = document.getElementById("message");
    if (bar) bar.textContent = `could not load ${what}: ${error.message}`;
  });
}

boot("editor", "the lab", (root) =>
  new Editor(Number(root.dataset.labId), root.dataset.attemptId ? Number(root.dataset.attemptId) : undefined, root.dataset.user ?? ""));
boot("dashboard", "the class", (root) => new Dashboard(Number(root.dataset.courseId), root));

const watchRoot = document.getElementById("console-watch");
if (watchRoot) new ConsoleWatch(watchRoot, Number(watchRoot.dataset.attemptId), watchRoot.dataset.node ?? "");
