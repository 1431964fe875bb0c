// The lab's live state on the page: its socket, the status badge, the diagram's colours, the
// cable tooltips, and the events the other parts wait for (operations, captures, checks).
import { $ } from "../dom";
import type { JobEnd } from "../jobs";
import { LiveConnection, eventAs, paint, type LiveState } from "../live";
import type { Editor } from "./editor";

/** What the other parts hear from the socket: an operation's progress, a deploy's end. */
export interface OperationEvent { id: number; status: string; line: string }

export interface Listeners {
  onOperation(op: OperationEvent): void;
  onLabChanged(): void; // a deploy or destroy ended: what was drawn from the last one is history
}

export class LiveView {
  private connection: LiveConnection | null = null;
  private lastStatus = ""; // the lab's status as last shown

  constructor(private editor: Editor, private listeners: Listeners) {
    editor.send = (message) => this.connection?.send(message);
  }

  open(): void {
    const editor = this.editor;
    this.connection = new LiveConnection({
      path: `/ws/labs/${editor.labId}/`,
      onChange: (state) => this.onLive(state),
      onLink: (up) => this.onSocket(up),
      onJob: (event) => {
        if (event.type === "operation") this.listeners.onOperation(eventAs<OperationEvent>(event));
        editor.jobs.heard(eventAs<JobEnd>(event));
      },
      onOther: (message) => editor.exercise?.onMessage(message),
    });
    this.connection.open();
    const cy = editor.cy;
    cy.on("mouseover", "edge", (event) => this.tooltip(event.target.data("ends"), event.originalEvent as MouseEvent));
    cy.on("mouseout", "edge", () => ($("#tooltip").style.display = "none"));
  }


  onLive(state: LiveState): void {
    const editor = this.editor;
    const before = this.lastStatus; // the state is updated in place: its status before is kept here
    const now = state.status.status;
    this.lastStatus = now;
    editor.live = state;
    editor.showStatus(now, state.status.reason);
    const troubled = now === "degraded" || now === "failed";
    if ((before && before !== now) || (!before && troubled)) editor.line.sayStatus(state.status);
    if (before && before !== now && now !== "deploying") {
      // a deploy or destroy ended: what it placed where, and what the CNI plugins gave; a journey
      // traced before is history
      this.listeners.onLabChanged();
      editor.api.get().then((lab) => { editor.absorb(lab); editor.renderPanel(false); }).catch(() => undefined);
    }
    if (state.document) editor.storedElsewhere(state.document).catch(() => undefined);
    paint(editor.cy, state);
    editor.renderPanel(false);
  }

  private onSocket(up: boolean): void {
    this.editor.socketUp = up;
    $("#live").textContent = up ? "live" : "reconnecting…";
    $("#live").className = up ? "ok" : "bad";
  }

  private tooltip(ends: string[] | undefined, event: MouseEvent): void {
    if (!ends) return;
    const live = this.editor.live;
    const lines = ends.map((end) => {
      const c = live.counters[end];
      const l = live.links[end];
      return `${end}: ${l?.oper ?? "?"}${c ? ` · rx ${c.rx_packets} / tx ${c.tx_packets} pkts · ${Math.round((c.rx_bps + c.tx_bps) / 1000)} kbit/s` : ""}`;
    });
    const tip = $("#tooltip");
    tip.textContent = lines.join("\n");
    tip.style.display = "block";
    tip.style.left = `${event.clientX + 12}px`;
    tip.style.top = `${event.clientY + 12}px`;
  }
}
