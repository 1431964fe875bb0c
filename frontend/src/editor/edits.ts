// Edits a person makes on the canvas, turned into changes of the lab document.
import type { LabDocument, NetworkDocument, NodeDocument } from "../api";
import { allKinds, kindOf } from "../kinds";
import type { LabModel } from "../model";

export interface PaletteItem {
  kind: string; // a node kind from the registry, or a network kind
  network: boolean;
  label: string;
  prefix: string;
  template: Record<string, unknown>;
}

const NETWORKS: PaletteItem[] = [
  { kind: "segment", network: true, label: "LAN segment", prefix: "lan", template: {} },
  { kind: "overlay", network: true, label: "Overlay network", prefix: "ov", template: {} },
];

/** An app of the lab's orchestrator: a web server on a brokered port, each instance saying its name. */
export const APP: PaletteItem = {
  kind: "app", network: false, label: "App (orchestrator)", prefix: "web",
  template: { instances: 2, image: "wirelab/node:busybox", mode: "host", ports: ["auto"],
              command: "mkdir -p /www && echo $MESOS_TASK_ID > /www/index.html && exec httpd -f -p $PORT0 -h /www" },
};

/** The palette: every entry every registered kind offers, then the networks, then an app. */
export function palette(): PaletteItem[] {
  const nodes = allKinds().flatMap((k) =>
    k.palette.map((p) => ({ kind: k.name, network: false, label: p.label, prefix: p.prefix, template: p.template })),
  );
  return [...nodes, ...NETWORKS, APP];
}

function fill(template: Record<string, unknown>, name: string): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(template).map(([k, v]) => [k, typeof v === "string" ? v.split("{name}").join(name) : v]),
  );
}

export function addItem(model: LabModel, item: PaletteItem, position: { x: number; y: number }, host?: string): string {
  const name = model.freeName(item.prefix);
  model.edit((doc) => {
    if (item.kind === "app") {
      // the lab's hosts become the orchestrator's agents when it has none yet
      const hosts = Object.entries(doc.nodes ?? {}).filter(([, n]) => kindOf(n).holds_containers).map(([h]) => h);
      doc.orchestrator = doc.orchestrator ?? { agents: hosts };
      doc.apps = { ...(doc.apps ?? {}), [name]: { ...item.template, position } as NonNullable<LabDocument["apps"]>[string] };
      return;
    }
    if (item.network) {
      const subnet = item.kind === "overlay" ? model.freeSubnet().replace("198.18.", "198.19.") : model.freeSubnet();
      model.networks()[name] = { kind: item.kind, subnet, position } as NetworkDocument;
      return;
    }
    const node = { kind: item.kind, ...fill(item.template, name), position } as NodeDocument;
    if (kindOf(node).placed_on_host) node.host = host;
    model.nodes()[name] = node;
  });
  return name;
}

const networkKind = (doc: LabDocument, id: string): string => doc.networks![id.slice(4)].kind;
const nodeKind = (doc: LabDocument, id: string) => kindOf(doc.nodes![id.slice(2)]);

/** Connect two canvas elements; returns a sentence when the pair cannot be joined. */
export function connect(model: LabModel, source: string, target: string): string | null {
  const doc = model.doc;
  if (source === target) return "pick two different elements";
  let [a, b] = [source, target];
  if (a.startsWith("net:")) [a, b] = [b, a];
  if (a.startsWith("net:")) return "networks are joined through nodes";
  const nodeA = a.slice(2);
  const kindA = nodeKind(doc, a);
  if (b.startsWith("net:")) {
    const net = b.slice(4);
    const netKind = networkKind(doc, b);
    if (netKind === "overlay") {
      if (!kindA.placed_on_host) return "only containers join an overlay (IP per container)";
      model.edit((d) => { d.nodes![nodeA].mode = `overlay:${net}`; });
      return null;
    }
    if (kindA.placed_on_host) return "a container reaches the LAN through its host (bridge or host mode)";
    const iface = model.freeInterface(nodeA, kindA.bridges_ports ? "p" : "eth");
    model.edit((d) => { d.nodes![nodeA].interfaces = { ...d.nodes![nodeA].interfaces, [iface]: { network: net } }; });
    return null;
  }
  const nodeB = b.slice(2);
  const kindB = nodeKind(doc, b);
  if (kindA.placed_on_host || kindB.placed_on_host) {
    const [container, host] = kindA.placed_on_host ? [nodeA, nodeB] : [nodeB, nodeA];
    if (!nodeKind(doc, `n:${host}`).holds_containers) return "a container runs on a host";
    model.edit((d) => { d.nodes![container].host = host; });
    return null;
  }
  const ifA = model.freeInterface(nodeA, kindA.bridges_ports ? "p" : "eth");
  const ifB = model.freeInterface(nodeB, kindB.bridges_ports ? "p" : "eth");
  const switched = kindA.bridges_ports || kindB.bridges_ports;
  const needsSubnet = !switched || !switchHasSubnet(doc, kindA.bridges_ports ? nodeA : nodeB);
  const subnet = needsSubnet ? model.freeSubnet(switched ? 24 : 30) : undefined;
  model.edit((d) => {
    d.links!.push(subnet ? { endpoints: [`${nodeA}:${ifA}`, `${nodeB}:${ifB}`], subnet } : { endpoints: [`${nodeA}:${ifA}`, `${nodeB}:${ifB}`] });
  });
  return null;
}

function switchHasSubnet(doc: LabDocument, sw: string): boolean {
  return (doc.links ?? []).some((l) => l.subnet && l.endpoints.some((e) => e.startsWith(`${sw}:`)));
}

/** `10000:80, auto:443/udp, 80, auto`: the document's short forms, checked by the server; a
 *  number alone is that port (sent as a number, as `ports: [80]` writes it). */
