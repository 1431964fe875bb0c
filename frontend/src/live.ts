// Live state over the lab's WebSocket: a snapshot on join, then numbered events. A gap in
// the numbers, or a dropped connection, is healed by a fresh snapshot (with backoff).
import type { Core } from "cytoscape";

export interface LiveState {
  seq: number;
  status: { status: string; reason: string; by?: string }; // by: who caused it, when someone did
  nodes: Record<string, any>;
  links: Record<string, any>;
  ports: Record<string, any>;
  routes: Record<string, any>;
  counters: Record<string, any>;
  impairments: Record<string, any>;
  published: any[];
}

export const emptyState = (): LiveState => ({
  seq: 0, status: { status: "draft", reason: "" }, nodes: {}, links: {}, ports: {}, routes: {}, counters: {}, impairments: {}, published: [],
});

export interface LiveOptions {
  path: string; // the socket's path, e.g. /ws/labs/7/
  onChange: (state: LiveState) => void;
  onLink: (up: boolean) => void;
  onJob?: (event: any) => void; // a job's progress or end: an operation's, a capture's
  hello?: () => object; // the first message after each connect (a share link's join)
  onOther?: (message: any) => void; // messages other than state: present, joined, error
  onEnd?: (code: number) => void; // closed for good: access refused or withdrawn
}

const FOR_GOOD = [4403, 4404, 4429];

export class LiveConnection {
  state: LiveState = emptyState();
  connected = false;
  private socket: WebSocket | null = null;
  private delay = 500;
  private closed = false;

  constructor(private options: LiveOptions) {}

  open(): void {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${this.options.path}`);
    this.socket = socket;
    socket.onopen = () => {
      this.connected = true;
      this.delay = 500;
      if (this.options.hello) socket.send(JSON.stringify(this.options.hello()));
      this.options.onLink(true);
    };
    socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    socket.onclose = (event) => {
      this.connected = false;
      this.options.onLink(false);
      if (FOR_GOOD.includes(event.code)) {
        this.closed = true;
        this.options.onEnd?.(event.code);
      }
      if (!this.closed) setTimeout(() => this.open(), this.delay);
      this.delay = Math.min(this.delay * 2, 10_000);
    };
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }

  send(message: object): void {
    if (this.connected) this.socket?.send(JSON.stringify(message));
  }

  private receive(message: any): void {
    if (message.type !== "snapshot" && message.type !== "events") {
      this.options.onOther?.(message);
      return;
    }
    if (message.type === "snapshot") {
      const { type, lab, ...rest } = message;
      this.state = { ...emptyState(), ...rest };
      // the lab's row (read for the snapshot) is the truth; the last status event says who
      if (!rest.status && lab) this.state.status = { status: lab.status, reason: lab.reason };
      if (lab?.by && lab.status === this.state.status.status) this.state.status.by = lab.by;
    } else if (message.type === "events") {
      if (message.seq <= this.state.seq) return;
      if (message.seq !== this.state.seq + 1) {
        this.socket?.send(JSON.stringify({ type: "snapshot" }));
        return;
      }
      this.state.seq = message.seq;
      for (const event of message.events) {
        apply(this.state, event);
        // jobs are followed over the socket: no polling while it is open
        if (event.type === "operation" || event.type === "capture") this.options.onJob?.(event);
      }
      // a deploy or destroy changes what is published: the snapshot has it
      if (message.events.some((e: any) => e.type === "lab.status")) this.socket?.send(JSON.stringify({ type: "snapshot" }));
    }
    this.options.onChange(this.state);
  }
}

function apply(state: LiveState, event: any): void {
  const key = `${event.node}:${event.iface}`;
  switch (event.type) {
    case "node.state": state.nodes[event.node] = event; break;
    case "port.state": state.ports[event.node] = event; break;
    case "route.state": state.routes[event.node] = event; break;
    case "counters": state.counters[key] = event; break;
    case "impairment": state.impairments[key] = event; break;
    case "lab.status": state.status = { status: event.status, reason: event.reason, by: event.by }; break;
    case "link.state":
    case "cable.state": state.links[key] = { ...(state.links[key] ?? {}), ...event }; break;
  }
}

function endUp(state: LiveState, end: string): boolean | undefined {
  const link = state.links[end];
  if (!link) return undefined;
  if (link.cable === "pulled") return false;
  return link.oper === undefined ? undefined : link.oper === "up";
}

/** Paint live state onto the canvas: node colours, link ends, traffic. Only elements whose
 *  look changes are touched, so a busy 500-node lab does not restyle the whole graph. */
export function paint(cy: Core, state: LiveState): void {
  const running = state.status.status !== "draft" && state.status.status !== "stopped";
  cy.batch(() => {
    cy.nodes().forEach((node) => {
      const live = running ? state.nodes[node.data("name")] : undefined;
      const look = !live ? "" : live.state === "running" ? "running" : live.state === "exited" ? "exited" : "failed";
      if (node.scratch("_look") === look) return;
      node.scratch("_look", look);
      node.removeClass("running failed exited");
      if (look) node.addClass(look);
    });
    cy.edges().forEach((edge) => {
      const ends: string[] | undefined = edge.data("ends");
      let look = "";
      let width = 2;
      if (ends && running) {
        const states = ends.map((end) => endUp(state, end)).filter((s) => s !== undefined);
        look = states.some((s) => s === false) ? "down" : states.length ? "up" : "";
        const bps = Math.max(0, ...ends.map((end) => (state.counters[end]?.rx_bps ?? 0) + (state.counters[end]?.tx_bps ?? 0)));
        width = Math.round((2 + Math.min(8, Math.log10(1 + bps / 1000) * 2)) * 2) / 2;
      }
      if (edge.scratch("_look") !== look) {
        edge.scratch("_look", look);
        edge.removeClass("up down");
        if (look) edge.addClass(look);
      }
      if ((edge.scratch("_width") ?? 2) !== width) {
        edge.scratch("_width", width);
        edge.style("width", width);
      }
    });
  });
}
