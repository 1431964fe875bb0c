// Edits a person makes on the canvas, turned into changes of the lab document.
import type { LabDocument } from "./api";
import type { LabModel } from "./model";

export interface PaletteItem {
  kind: "host" | "router" | "switch" | "container" | "segment" | "overlay";
  label: string;
  prefix: string;
}

export const PALETTE: PaletteItem[] = [
  { kind: "host", label: "Docker host", prefix: "host" },
  { kind: "container", label: "Container", prefix: "app" },
  { kind: "router", label: "Router", prefix: "r" },
  { kind: "switch", label: "Switch", prefix: "sw" },
  { kind: "host", label: "End host", prefix: "pc" },
  { kind: "segment", label: "LAN segment", prefix: "lan" },
  { kind: "overlay", label: "Overlay network", prefix: "ov" },
];

export function addItem(model: LabModel, item: PaletteItem, position: { x: number; y: number }, host?: string): string {
  const name = model.freeName(item.prefix);
  model.edit((doc) => {
    if (item.kind === "segment" || item.kind === "overlay") {
      const subnet = item.kind === "overlay" ? model.freeSubnet().replace("198.18.", "198.19.") : model.freeSubnet();
      (doc.networks as any)[name] = { kind: item.kind, subnet, position };
      return;
    }
    const node: any = { kind: item.kind, position };
    if (item.kind === "container") {
      node.host = host;
      node.image = "wirelab/node:busybox";
      node.mode = "bridge";
      node.command = "mkdir -p /www && echo " + name + " > /www/index.html && exec httpd -f -p 80 -h /www";
    }
    (doc.nodes as any)[name] = node;
  });
  return name;
}

const kindOf = (doc: LabDocument, id: string): string =>
  id.startsWith("net:") ? doc.networks![id.slice(4)].kind : doc.nodes![id.slice(2)].kind;

/** Connect two canvas elements; returns a sentence when the pair cannot be joined. */
export function connect(model: LabModel, source: string, target: string): string | null {
  const doc = model.doc;
  if (source === target) return "pick two different elements";
  let [a, b] = [source, target];
  if (a.startsWith("net:")) [a, b] = [b, a];
  if (a.startsWith("net:")) return "networks are joined through nodes";
  const nodeA = a.slice(2);
  const kindA = kindOf(doc, a);
  if (b.startsWith("net:")) {
    const net = b.slice(4);
    const netKind = kindOf(doc, b);
    if (netKind === "overlay") {
      if (kindA !== "container") return "only containers join an overlay (IP per container)";
      model.edit((d) => { d.nodes![nodeA].mode = `overlay:${net}`; });
      return null;
    }
    if (kindA === "container") return "a container reaches the LAN through its host (bridge or host mode)";
    const iface = model.freeInterface(nodeA, kindA === "switch" ? "p" : "eth");
    model.edit((d) => { (d.nodes![nodeA].interfaces as any)[iface] = { network: net }; });
    return null;
  }
  const nodeB = b.slice(2);
  const kindB = kindOf(doc, b);
  if (kindA === "container" || kindB === "container") {
    const [container, host] = kindA === "container" ? [nodeA, nodeB] : [nodeB, nodeA];
    if (kindOf(doc, `n:${host}`) !== "host") return "a container runs on a host";
    model.edit((d) => { d.nodes![container].host = host; });
    return null;
  }
  const ifA = model.freeInterface(nodeA, kindA === "switch" ? "p" : "eth");
  const ifB = model.freeInterface(nodeB, kindB === "switch" ? "p" : "eth");
  const switched = kindA === "switch" || kindB === "switch";
  const needsSubnet = !switched || !switchHasSubnet(doc, kindA === "switch" ? nodeA : nodeB);
  const subnet = needsSubnet ? model.freeSubnet(switched ? 24 : 30) : undefined;
  model.edit((d) => {
    d.links!.push(subnet ? { endpoints: [`${nodeA}:${ifA}`, `${nodeB}:${ifB}`], subnet } : { endpoints: [`${nodeA}:${ifA}`, `${nodeB}:${ifB}`] });
  });
  return null;
}

function switchHasSubnet(doc: LabDocument, sw: string): boolean {
  return (doc.links ?? []).some((l) => l.subnet && l.endpoints.some((e) => e.startsWith(`${sw}:`)));
}

/** `10000:80, auto:443/udp, 80, auto`: the document's short forms, checked by the server. */
export function parsePorts(text: string): string[] {
  return text.split(",").map((p) => p.trim()).filter(Boolean);
}
