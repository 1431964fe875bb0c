// Running the lab: deploy and destroy (followed on the lab's socket), the controls of a running
// lab (cables, impairments, restarts, captures), its NAT table, traces and consoles.
import type { ApiError, Capture, Problem } from "../api";
import { $, esc } from "../dom";
import { appOf } from "../canvas";
import { type Journey, type Stop, animate, clearJourney, journeyHtml, stops } from "../journey";
import { type NatView, natHtml, type Selection } from "../panel";
import { NodeConsole } from "../terminal";
import type { Editor } from "./editor";

type Lifecycle = "deploy" | "destroy";

export class Running {
  natView: { node: string; view: NatView; when: string } | null = null; // the NAT table last read
  journey: { node: string; journey: Journey; walk: Stop[]; at: number } | null = null; // the last trace
  private traceInput = { target: "", protocol: "icmp", port: "" }; // what the trace form last held
  private operation: number | null = null; // the deploy or destroy this page asked for
  private captures: Capture[] = []; // the lab's captures that are done, newest first
  private console: NodeConsole | null = null;

  constructor(private editor: Editor) {
    editor.panelHooks.push((selection) => this.showInPanel(selection));
    editor.selectHooks.push((selection) => {
      const traced = this.journey?.node;
      if (traced && !(selection?.type === "node" && selection.name === traced)) this.forgetJourney();
    });
  }

  /** A journey's marks go when its node's panel is left, or when the lab is deployed again. */
  forgetJourney(): void {
    clearJourney(this.editor.cy);
    this.journey = null;
  }

  wire(): void {
    const on = (id: string, fn: () => void) => $(id).addEventListener("click", fn);
    on("#deploy", () => this.lifecycle("deploy"));
    on("#destroy", () => this.lifecycle("destroy"));
    on("#close-console", () => this.closeConsole());
    $("#panel").addEventListener("click", async (event) => {
      const button = (event.target as HTMLElement).closest("button");
      if (button?.dataset.path !== undefined) return this.editor.goTo(button.dataset.path);
      if (button?.dataset.action) await this.panelAction(button.dataset.action);
    });
    this.editor.cy.on("cxttap", "node", (event) => this.contextMenu(event.target.id(), event.originalEvent as MouseEvent));
    this.editor.api.capturesList().then((all) => {
      this.captures = all.filter((c) => c.status === "done");
      this.editor.renderPanel(false);
    }).catch(() => undefined); // a courtesy: new captures are listed as they are made
  }

  /** Capture on a cable end; the file is then listed in its cable's panel (and the lab's). */
  private async capture(node: string, iface: string): Promise<void> {
    const done = await this.editor.jobs.capture(node, iface);
    if (!done) return;
    this.captures.unshift({ id: done.id, node, iface, size: done.size, created: new Date().toISOString() } as Capture);
    this.editor.renderPanel(false);
  }

  private get idle(): boolean {
    return ["draft", "stopped"].includes(this.editor.live.status.status);
  }

  // Deploy and destroy ------------------------------------------------------------------

  async lifecycle(kind: Lifecycle): Promise<void> {
    const editor = this.editor;
    if (kind === "deploy" && editor.hasErrors()) return editor.message("fix the problems marked in red before deploying", "error");
    if (kind === "destroy" && !this.idle && !confirm(`Destroy ${editor.model.doc.name}? Its containers and cables are taken down `
      + "(consoles close, what the nodes wrote is lost); the lab's document stays.")) return;
    try {
      const op = kind === "deploy" ? await editor.api.deploy() : await editor.api.destroy();
      this.operation = op.id;
      $("#log").textContent = ""; // the drawer opens if it fails (its log says why)
      editor.message(`${kind} #${op.id} queued`);
      this.follow();
    } catch (error) {
      const body = (error as ApiError).body;
      const detail = body?.problems ? body.problems.map((p: Problem) => `${p.path}: ${p.message}`).join("; ") : (error as Error).message;
      editor.message(`${kind} refused: ${detail}`, "error");
    }
  }

  /** An operation's event on the lab's socket: its log grows; at its end its outcome is read. */
  onOperation(op: { id: number; status: string; line: string }): void {
    if (op.id !== this.operation) return;
    if (op.line) {
      $("#log").textContent += `${op.line}\n`;
      $("#log").scrollTop = 1e9;
    }
    if (op.status === "succeeded" || op.status === "failed") this.follow();
  }

  /** The operation's whole log and outcome, read once; read again only while the socket is down. */
  private async follow(): Promise<void> {
    const editor = this.editor;
    const op = (await editor.api.operations()).find((o) => o.id === this.operation);
    if (!op) return;
    $("#log").textContent = op.log;
    $("#log").scrollTop = 1e9;
    if (op.status !== "succeeded" && op.status !== "failed") {
      if (!editor.socketUp) window.setTimeout(() => this.follow(), 1000);
      return;
    }
    if (op.status === "failed") {
      editor.message(`${op.kind} failed: ${op.error}`, "error");
      $("#bottom").classList.add("open", "log");
      editor.cy.resize();
    }
    const lab = await editor.api.get();
    if (op.status === "succeeded") editor.line.sayStatus({ status: lab.status, reason: lab.status_reason });
    editor.showStatus(lab.status, lab.status_reason);
    editor.absorb(lab); // what the deploy placed where (a lab spanning lab hosts)
    editor.renderPanel(false);
  }

  // Controls ----------------------------------------------------------------------------

  private async panelAction(action: string): Promise<void> {
    const { api, jobs, model, selection } = this.editor;
    const ends = selection?.type === "link" ? model.doc.links![selection.index].endpoints
      : selection?.type === "attachment" ? [`${selection.node}:${selection.iface}`] : [];
    const each = async (doing: string, call: (node: string, iface: string) => Promise<unknown>) => {
      for (const end of ends) {
        const [node, iface] = end.split(":");
        await jobs.control(() => call(node, iface), `${doing} ${end}`);
      }
    };
    if (action === "pull" || action === "plug") {
      await each(action === "plug" ? "plugging" : "pulling", (node, iface) => api.cable(node, iface, action === "plug"));
    } else if (action === "impair") {
      const value = (name: string) => Number($<HTMLInputElement>(`#panel [data-impair="${name}"]`).value || 0);
      const values = { delay_ms: value("delay_ms"), jitter_ms: value("jitter_ms"), loss_pct: value("loss_pct"), rate_kbit: value("rate_kbit") };
      await each("impairing", (node, iface) => api.impair(node, iface, values));
    } else if (action === "capture" && ends.length) {
      const [node, iface] = ends[0].split(":");
      await this.capture(node, iface);
    } else if (action === "scale" && selection && (selection.type === "app" || selection.type === "node")) {
      await this.scale(selection.name);
    } else if (selection?.type === "node") {
      if (action === "console") this.openConsole(selection.name);
      else if (action === "nat") await this.readNat(selection.name);
      else if (action === "trace") await this.trace(selection.name);
      else if (action === "restart") await this.restart(selection.name);
    }
  }

  /** Scale an app (or an instance's app): saved at once, and deployed when the lab runs, as the
   *  orchestrator's PUT does. */
  private async scale(selected: string): Promise<void> {
    const editor = this.editor;
    const app = editor.model.doc.apps?.[selected] ? selected : appOf(editor.model.doc, selected);
    const count = Number($<HTMLInputElement>("#scale-to").value);
    if (!app || !Number.isInteger(count) || count < 0 || count > 50) return editor.message("an app runs 0 to 50 instances", "error");
    editor.model.edit((doc) => { doc.apps![app].instances = count; });
    editor.draw();
    await editor.check(true);
    if (editor.hasErrors() || editor.refused) return;
    if (!this.idle) await this.lifecycle("deploy");
  }

  private restart(node: string): Promise<void> {
    return this.editor.jobs.control(() => this.editor.api.nodeAction(node, "restart"), `restarting ${node}`);
  }

  private contextMenu(id: string, event: MouseEvent): void {
    if (!id.startsWith("n:")) return;
    const name = id.slice(2);
    const { live, model } = this.editor;
    if (!live.nodes[name] || this.idle) {
      return this.editor.message(`${name} is not running: deploy the lab for its console, restart and captures`);
    }
    const menu = $("#menu");
    const ifaces = Object.keys(model.doc.nodes?.[name]?.interfaces ?? {}).concat(
      (model.doc.links ?? []).flatMap((l) => l.endpoints.filter((e) => e.startsWith(`${name}:`)).map((e) => e.split(":")[1])),
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
      if (action === "restart") await this.restart(name);
      if (action === "capture") await this.capture(name, button.dataset.iface!);
    };
    document.addEventListener("click", () => (menu.style.display = "none"), { once: true });
  }

  // NAT table, trace, console -------------------------------------------------------------

  /** Ask the lab host for a host's NAT rules and connections; shown when the job is done. */
  private async readNat(node: string): Promise<void> {
    const { jobs, api } = this.editor;
    const view = await jobs.result<NatView>(() => api.nat(node), `NAT table of ${node}`, `reading the NAT table of ${node}…`);
    if (view === null) return;
    this.natView = { node, view, when: new Date().toLocaleTimeString() };
    this.editor.message(`NAT table of ${node} read`);
    this.editor.renderPanel();
  }

  /** Trace a probe from `node` as the form says; list its journey and walk it on the diagram. */
  private async trace(node: string): Promise<void> {
    const { jobs, api } = this.editor;
    const target = $<HTMLInputElement>("#trace-target").value.trim();
    const protocol = $<HTMLSelectElement>("#trace-protocol").value;
    const port = $<HTMLInputElement>("#trace-port").value;
    this.traceInput = { target, protocol, port };
    if (!target) return this.editor.message("trace: say where to (an address, or a name the node knows)", "error");
    const journey = await jobs.result<Journey>(() => api.trace(node, target, protocol, Number(port) || undefined),
      `trace from ${node}`, `tracing ${protocol} from ${node} to ${target}…`);
    if (journey === null) return;
    const walk = stops(journey, this.editor.model.doc);
    this.journey = { node, journey, walk, at: -1 };
    this.editor.message(`trace from ${node}: ${journey.outcome.result} at ${journey.outcome.at}`);
    this.editor.renderPanel();
    await animate(this.editor.cy, walk, journey.outcome, (index) => {
      if (this.journey?.walk === walk) this.markStop((this.journey.at = index));
    });
  }

  /** The NAT table last read, the trace form as last filled, and the last journey, when their
   *  node is the one shown. */
  private showInPanel(selection: Selection): void {
    this.listCaptures(selection);
    const nat = this.natView;
    if (nat && selection?.type === "node" && selection.name === nat.node && $("#nat-view")) {
      $("#nat-view").innerHTML = natHtml(nat.node, nat.view, nat.when);
    }
    if ($("#trace-target")) {
      $<HTMLInputElement>("#trace-target").value = this.traceInput.target;
      $<HTMLSelectElement>("#trace-protocol").value = this.traceInput.protocol;
      $<HTMLInputElement>("#trace-port").value = this.traceInput.port;
    }
    const trace = this.journey;
    if (trace && selection?.type === "node" && selection.name === trace.node && $("#trace-view")) {
      $("#trace-view").innerHTML = journeyHtml(trace.journey, trace.walk);
      this.markStop(trace.at);
    }
  }

  /** The captures of the cable shown (or, with nothing selected, the lab's last ones), each a
   *  link to its file: a capture stays at hand after its message has gone. */
  private listCaptures(selection: Selection): void {
    const model = this.editor.model;
    const ends = selection?.type === "link" ? model.doc.links?.[selection.index]?.endpoints ?? []
      : selection?.type === "attachment" ? [`${selection.node}:${selection.iface}`] : null;
    const shown = this.captures.filter((c) => !ends || ends.includes(`${c.node}:${c.iface}`)).slice(0, ends ? 10 : 5);
    const panel = $("#panel");
    if (!shown.length || (selection && !ends) || !panel) return;
    const items = shown.map((c) => `<li><a class="pcap" href="/api/captures/${c.id}/pcap/" download>${esc(c.node)}:${esc(c.iface)}.pcap</a>
      <span class="muted">${c.size <= 24 ? "empty" : `${Math.max(1, Math.round(c.size / 1024))} KiB`},
      ${esc(new Date(c.created).toLocaleTimeString())}</span></li>`).join("");
    const list = `<h3>Captures</h3><ul class="captures">${items}</ul>`;
    const buttons = panel.querySelector(".buttons"); // a cable's: its files right under Capture
    if (ends && buttons) buttons.insertAdjacentHTML("afterend", list);
    else panel.insertAdjacentHTML("beforeend", list);
  }

  private markStop(index: number): void {
    document.querySelectorAll("#trace-view li").forEach((li) =>
      li.classList.toggle("current", Number((li as HTMLElement).dataset.index) === index));
  }

  private openConsole(node: string): void {
    this.console?.close();
    $("#bottom").classList.add("open");
    this.editor.cy.resize();
    $("#console-title").textContent = `Console: ${node}`;
    const host = $("#terminal");
    host.innerHTML = "";
    this.console = new NodeConsole(host, this.editor.labId, node);
  }

  private closeConsole(): void {
    this.console?.close();
    this.console = null;
    $("#bottom").classList.remove("open", "log");
    this.editor.cy.resize();
  }
}
