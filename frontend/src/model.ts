// The lab as the editor holds it: the lab document, edited in place, with undo and redo.
import type { LabDocument, NetworkDocument, NodeDocument } from "./api";


export class LabModel {
  doc: LabDocument;
  private undoStack: string[] = [];
  private redoStack: string[] = [];

  constructor(doc: LabDocument) {
    this.doc = normalise(doc);
  }

  /** Record the current document, then apply an edit. */
  edit(change: (doc: LabDocument) => void): void {
    this.undoStack.push(JSON.stringify(this.doc));
    if (this.undoStack.length > 200) this.undoStack.shift();
    this.redoStack = [];
    change(this.doc);
  }

  /** The document as it was before the last edit (null when there is none). */
  previous(): LabDocument | null {
    const last = this.undoStack[this.undoStack.length - 1];
    return last ? JSON.parse(last) : null;
  }

  /** Take the last edit back for good (it was refused): no redo brings it back. */
  revert(): void {
    const previous = this.undoStack.pop();
    if (previous) this.doc = JSON.parse(previous);
  }

  /** Show `doc` (what is stored) from now on, in place of a refused edit. */
  reset(doc: LabDocument): void {
    this.redoStack = [];
    this.doc = normalise(doc);
  }

  undo(): boolean {
    const previous = this.undoStack.pop();
    if (!previous) return false;
    this.redoStack.push(JSON.stringify(this.doc));
    this.doc = JSON.parse(previous);
    return true;
  }

  redo(): boolean {
    const next = this.redoStack.pop();
    if (!next) return false;
    this.undoStack.push(JSON.stringify(this.doc));
    this.doc = JSON.parse(next);
    return true;
  }

  nodes(): Record<string, NodeDocument> {
    return this.doc.nodes as Record<string, NodeDocument>;
  }

  networks(): Record<string, NetworkDocument> {
    return this.doc.networks as Record<string, NetworkDocument>;
  }

  freeName(prefix: string): string {
    const taken = new Set([...Object.keys(this.doc.nodes ?? {}), ...Object.keys(this.doc.networks ?? {}),
      ...Object.keys(this.doc.apps ?? {})]);
    for (let i = 1; ; i++) if (!taken.has(`${prefix}${i}`)) return `${prefix}${i}`;
  }

  freeInterface(node: string, prefix = "eth"): string {
    const used = new Set(Object.keys(this.nodes()[node]?.interfaces ?? {}));
    for (const link of this.doc.links ?? []) {
      for (const end of link.endpoints) if (end.startsWith(`${node}:`)) used.add(end.split(":")[1]);
    }
    for (let i = 0; ; i++) if (!used.has(`${prefix}${i}`)) return `${prefix}${i}`;
  }

  /** A /24 (or /30) in 198.18.0.0/15 that no network or link of the lab uses yet. */
  freeSubnet(prefixlen: 24 | 30 = 24): string {
    const used = new Set<string>();
    for (const net of Object.values(this.doc.networks ?? {})) if (net.subnet) used.add(net.subnet.split(".").slice(0, 3).join("."));
    for (const link of this.doc.links ?? []) if (link.subnet) used.add(link.subnet.split(".").slice(0, 3).join("."));
    for (let third = 1; third < 255; third++) {
      const base = `198.18.${third}`;
      if (!used.has(base)) return `${base}.0/${prefixlen}`;
    }
    return "198.19.200.0/24";
  }

  rename(kind: "node" | "network", from: string, to: string): void {
    if (from === to) return;
    if (kind === "network") {
      const nets = this.networks();
      nets[to] = nets[from];
      delete nets[from];
      for (const node of Object.values(this.nodes())) {
        for (const iface of Object.values(node.interfaces ?? {})) if (iface.network === from) iface.network = to;
        if (node.mode === `overlay:${from}`) node.mode = `overlay:${to}`;
        if (node.mode === `cni:${from}`) node.mode = `cni:${to}`;
      }
      return;
    }
    const nodes = this.nodes();
    nodes[to] = nodes[from];
    delete nodes[from];
    for (const node of Object.values(nodes)) if (node.host === from) node.host = to;
    for (const net of Object.values(this.doc.networks ?? {})) if (net.host === from) net.host = to;
    for (const link of this.doc.links ?? []) {
      link.endpoints = link.endpoints.map((e) => (e.startsWith(`${from}:`) ? `${to}:${e.split(":")[1]}` : e));
    }
    const agents = this.doc.orchestrator?.agents;
    if (agents) this.doc.orchestrator!.agents = agents.map((a) => (a === from ? to : a));
  }

  removeNode(name: string): void {
    const nodes = this.nodes();
    for (const [child, node] of Object.entries(nodes)) if (node.host === name) this.removeNode(child);
    delete nodes[name];
    this.doc.links = (this.doc.links ?? []).filter((l) => !l.endpoints.some((e) => e.startsWith(`${name}:`)));
    for (const [netName, net] of Object.entries(this.doc.networks ?? {})) {
      if (net.host === name) delete this.networks()[netName];
    }
    const agents = this.doc.orchestrator?.agents;
    if (agents?.includes(name)) this.doc.orchestrator!.agents = agents.filter((a) => a !== name);
  }

  removeNetwork(name: string): void {
    delete this.networks()[name];
    for (const node of Object.values(this.nodes())) {
      for (const [ifName, iface] of Object.entries(node.interfaces ?? {})) {
        if (iface.network === name) delete node.interfaces![ifName];
      }
      if (node.mode === `overlay:${name}` || node.mode === `cni:${name}`) node.mode = "bridge";
    }
  }
}

function normalise(doc: LabDocument): LabDocument {
  doc.nodes = doc.nodes ?? {};
  doc.networks = doc.networks ?? {};
  doc.links = doc.links ?? [];
  for (const node of Object.values(doc.nodes)) {
    node.interfaces = node.interfaces ?? {};
    node.ports = node.ports ?? [];
  }
  return doc;
}
