// Live state over the lab's WebSocket: a snapshot on join, then numbered events. A gap in
// the numbers, or a dropped connection, is healed by a fresh snapshot (with backoff).
import type { Core } from "cytoscape";

// The entities of a lab's live state, as the lab host's monitor sends them (worker/live/).
export interface NodeLive { state: string; reason?: string; exit_code?: number | null }
export interface HealthLive { healthy: boolean; cause?: string } // an app instance's health checks
export interface LinkLive { oper?: string; cable?: "pulled" | "plugged"; addresses?: string[]; mtu?: number }
export interface Listening { protocol: string; port: number; process: string }
export interface RouteLive { to: string; via?: string; dev?: string }
export interface Counters { rx_packets: number; tx_packets: number; rx_bps: number; tx_bps: number }
export interface Impairment { delay_ms?: number; jitter_ms?: number; loss_pct?: number; rate_kbit?: number; error?: string }
export interface Published { host: string; host_port: number; container: string; port: number; protocol?: string; address?: string }
export interface LabStatus { status: string; reason: string; by?: string } // by: who caused it, when someone did

/** One event of the lab's socket: its type, the entity it concerns, and that entity's fields. */
export type LiveEvent = { type: string; node?: string; iface?: string; [field: string]: unknown };

export interface LiveState {
  seq: number;
  status: LabStatus;
  nodes: Record<string, NodeLive>; // by node
  health: Record<string, HealthLive>; // by app instance with health checks
  links: Record<string, LinkLive>; // by node:iface
  ports: Record<string, { listening: Listening[] }>; // by node
  routes: Record<string, { routes: RouteLive[] }>; // by node
  counters: Record<string, Counters>; // by node:iface
  impairments: Record<string, Impairment>; // by node:iface
  published: Published[];
  document?: string; // when the lab's document was last stored: a view reads it again when it moves on
}

export const emptyState = (): LiveState => ({
  seq: 0, status: { status: "draft", reason: "" }, nodes: {}, health: {}, links: {}, ports: {}, routes: {}, counters: {}, impairments: {}, published: [],
});

export interface LiveOptions {
  path: string; // the socket's path, e.g. /ws/labs/7/
  onChange: (state: LiveState) => void;
  onLink: (up: boolean) => void;
  onJob?: (event: LiveEvent) => void; // a job's progress or end: an operation's, a capture's
  hello?: () => object; // the first message after each connect (a share link's join)
  onOther?: (message: LiveEvent) => void; // messages other than state: present, joined, error
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

  private receive(raw: unknown): void {
    const kind = (raw as { type?: string }).type;
    if (kind === "snapshot") {
      const { type, lab, ...rest } = raw as Snapshot;
      this.state = { ...emptyState(), ...rest };
      // the lab's row (read for the snapshot) is the truth; the last status event says who
      if (!rest.status && lab) this.state.status = { status: lab.status, reason: lab.reason };
      if (lab?.by && lab.status === this.state.status.status) this.state.status.by = lab.by;
    } else if (kind === "events") {
      const { seq, events } = raw as EventsMessage;
      if (seq <= this.state.seq) return;
      if (seq !== this.state.seq + 1) {
        this.socket?.send(JSON.stringify({ type: "snapshot" }));
        return;
      }
      this.state.seq = seq;
      for (const event of events) {
        apply(this.state, event);
        // jobs are followed over the socket: no polling while it is open
        if (event.type === "operation" || event.type === "capture") this.options.onJob?.(event);
      }
      // a deploy or destroy changes what is published: the snapshot has it
      if (events.some((e) => e.type === "lab.status")) this.socket?.send(JSON.stringify({ type: "snapshot" }));
    } else {
      this.options.onOther?.(raw as LiveEvent);
      return;
    }
    this.options.onChange(this.state);
  }
}

type Snapshot = Partial<LiveState> & { type: "snapshot"; lab?: LabStatus | null };
type EventsMessage = { type: "events"; seq: number; events: LiveEvent[] };

/** An event's fields as what it carries (the lab host's and the server's events are trusted data). */
export const eventAs = <T>(event: LiveEvent) => event as unknown as T;
const as = eventAs;

function apply(state: LiveState, event: LiveEvent): void {
  const node = String(event.node);
  const key = `${event.node}:${event.iface}`;
  switch (event.type) {
    case "node.state": state.nodes[node] = as<NodeLive>(event); break;
    case "node.health": state.health[node] = as<HealthLive>(event); break;
    case "port.state": state.ports[node] = as<{ listening: Listening[] }>(event); break;
    case "route.state": state.routes[node] = as<{ routes: RouteLive[] }>(event); break;
    case "counters": state.counters[key] = as<Counters>(event); break;
    case "impairment": state.impairments[key] = as<Impairment>(event); break;
    case "lab.status": state.status = as<LabStatus>(event); break;
    case "lab.document": state.document = String(event.version); break;
    case "link.state":
    case "cable.state": state.links[key] = { ...(state.links[key] ?? {}), ...as<LinkLive>(event) }; break;
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
      const sick = running && live?.state === "running" && state.health[node.data("name")]?.healthy === false;
      const look = !live ? "" : sick ? "running unhealthy" : live.state === "running" ? "running" : live.state === "exited" ? "exited" : "failed";
      if (node.scratch("_look") === look) return;
      node.scratch("_look", look);
      node.removeClass("running failed exited unhealthy");
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
