// The topology canvas: the lab document drawn with Cytoscape.js, with live state on top.
import cytoscape from "cytoscape";
import type { Core, ElementDefinition, LayoutOptions, NodeSingular, StylesheetStyle } from "cytoscape";
import edgehandles from "cytoscape-edgehandles";
import elk from "cytoscape-elk";
import type { LabDocument, NodeDocument, Problem } from "./api";
import type { StyleRule } from "./style";
import { ICONS } from "./icons";
import { JOURNEY_STYLE } from "./journey";
import { kindOf } from "./kinds";

cytoscape.use(edgehandles);
cytoscape.use(elk);

export const COLORS = { ok: "#1f9d55", bad: "#d64545", idle: "#8a99a8", warn: "#d98b00" };

function bridgeContainers(doc: LabDocument, host: string): string[] {
  return Object.entries(doc.nodes ?? {})
    .filter(([, n]) => kindOf(n).placed_on_host && n.host === host && (n.mode ?? "bridge") === "bridge")
    .map(([name]) => name);
}

/** A port as the document writes it (`10000:80`, `auto:80/udp`, `80`, `auto`) or as a mapping. */
export function portEntry(port: unknown): { host: string; container?: string } {
  if (typeof port === "object" && port !== null) {
    const p = port as { host?: unknown; container?: unknown };
    return { host: String(p.host ?? "auto"), container: p.container == null ? undefined : String(p.container) };
  }
  const [first, second] = String(port).split("/")[0].split(":");
  return second === undefined ? { host: first } : { host: first, container: second };
}

/** Host ports handed out for `auto` ports, by `node:index` (the lab's assignments). */
export type AssignedPorts = Record<string, number>;

/** A port's host side: its number, or the one handed out for `auto` (PORT0 is index 0). */
export function hostPort(name: string, index: number, port: string, assigned: AssignedPorts): string {
  return port === "auto" && assigned[`${name}:${index}`] !== undefined ? String(assigned[`${name}:${index}`]) : port;
}

export function publishedLabel(doc: LabDocument, host: string, assigned: AssignedPorts = {}): string {
  const lines: string[] = [];
  for (const [name, node] of Object.entries(doc.nodes ?? {})) {
    if (!kindOf(node).placed_on_host || node.host !== host) continue;
    ((node.ports ?? []) as unknown[]).forEach((raw, index) => {
      const port = portEntry(raw);
      const mode = node.mode ?? "bridge";
      const mapped = mode === "bridge" || mode.startsWith("cni:"); // Wirelab's DNAT, or the portmap plugin's
      if (mapped && port.container) lines.push(`${host}:${hostPort(name, index, port.host, assigned)} → ${name}:${port.container}`);
      if (mode === "host") {
        const taken = hostPort(name, index, port.container ?? port.host, assigned);
        const dynamic = port.host === "auto" && port.container === undefined; // `auto:80` is port 80 itself
        lines.push(`${host}:${taken} ← ${name} (host mode${dynamic ? `, PORT${index}` : ""})`);
      }
    });
  }
  return lines.join("\n");
}

/** Addresses handed out, by `node:iface` and by container name (the lab's assignments). */
export type AssignedAddresses = Record<string, string>;

/** What the end of a cable says: the interface and its address, written or handed out. */
function endLabel(doc: LabDocument, end: string, addresses: AssignedAddresses): string {
  const [node, iface] = end.split(":");
  const address = doc.nodes?.[node]?.interfaces?.[iface]?.address ?? addresses[end];
  return address ? `${iface}\n${address}` : iface;
}

type Point = { x: number; y: number };

/** Where each node is drawn: its own position, or, for a container without one, a spot in a
 *  two-column grid around its host's position (hosts are drawn around their containers). */
function placements(doc: LabDocument): Map<string, Point> {
  const out = new Map<string, Point>();
  const perHost = new Map<string, number>();
  for (const [name, node] of Object.entries(doc.nodes ?? {})) {
    if (node.position) out.set(name, { x: node.position.x, y: node.position.y });
    else if (kindOf(node).placed_on_host && node.host && doc.nodes?.[node.host]?.position) {
      const anchor = doc.nodes[node.host].position!;
      const i = perHost.get(node.host) ?? 0;
      perHost.set(node.host, i + 1);
      out.set(name, { x: anchor.x - 50 + (i % 2) * 100, y: anchor.y + Math.floor(i / 2) * 60 });
    }
  }
  return out;
}

/** A LAN segment is drawn as a bus as wide as the nodes plugged into it are spread, with its
 *  name at the end that the farthest cable does not come in from. */
function segmentShape(doc: LabDocument, network: string, at: Map<string, Point>): { width: number; side: string } {
  const xs = Object.entries(doc.nodes ?? {})
    .filter(([, n]) => Object.values(n.interfaces ?? {}).some((i) => i.network === network))
    .map(([name]) => at.get(name)?.x)
    .filter((x): x is number => x !== undefined);
  if (xs.length < 2) return { width: 120, side: "left" };
  const center = doc.networks?.[network]?.position?.x ?? (Math.max(...xs) + Math.min(...xs)) / 2;
  const side = center - Math.min(...xs) > Math.max(...xs) - center ? "right" : "left";
  return { width: Math.max(120, Math.max(...xs) - Math.min(...xs) + 80), side };
}

/** Hosts given a default route by `gateway: auto` (the lab API's `gateways`). */
export type Gateways = Record<string, { via: string; router: string }>;

/** The orchestrator's app instances (the lab API's `instances`): `APP.N` -> the agent it runs on. */
export type Instances = Record<string, string>;

/** The app an instance name belongs to (`web.2` -> `web`), or null for any other node. */
export function appOf(doc: LabDocument, name: string): string | null {
  const dot = name.lastIndexOf(".");
  const app = dot > 0 ? name.slice(0, dot) : "";
  return app && doc.apps?.[app] && /^\d+$/.test(name.slice(dot + 1)) ? app : null;
}

/** The document with each placed app instance as a container of its agent, as the lab runs it
 *  (the orchestrator's placement is the lab's, not the document's: it comes with the lab). */
export function withInstances(doc: LabDocument, instances: Instances): LabDocument {
  const placed = Object.entries(instances).filter(([name, agent]) => appOf(doc, name) && doc.nodes?.[agent]);
  if (!placed.length) return doc;
  const nodes = { ...(doc.nodes ?? {}) };
  for (const [name, agent] of placed) {
    const app = doc.apps![appOf(doc, name)!];
    nodes[name] = { kind: "container", host: agent, image: app.image, mode: app.mode ?? "host", ports: app.ports ?? [] } as NodeDocument;
  }
  return { ...doc, nodes };
}

/** Cytoscape elements for a lab document; ids say what each element stands for. */
export function elements(shown: LabDocument, assigned: AssignedPorts = {}, addresses: AssignedAddresses = {},
  gateways: Gateways = {}, instances: Instances = {}): ElementDefinition[] {
  const out: ElementDefinition[] = [];
  const doc = withInstances(shown, instances);
  const containerAddress = (name: string) => doc.nodes?.[name]?.address ?? addresses[name];
  const at = placements(doc);
  for (const [name, node] of Object.entries(doc.nodes ?? {})) {
    const position = at.get(name);
    const kind = kindOf(node);
    const data: Record<string, unknown> = { id: `n:${name}`, name, label: name, kind: node.kind };
    if (kind.placed_on_host && node.host && doc.nodes?.[node.host]) data.parent = `n:${node.host}`;
    if (kind.holds_containers) {
      const published = publishedLabel(doc, name, assigned);
      const gateway = gateways[name] ? `default via ${gateways[name].router}` : "";
      data.label = [name, published, gateway].filter(Boolean).join("\n");
    }
    if (kind.placed_on_host) data.label = `${name}\n${node.mode ?? "bridge"}`;
    const traits = [kind.holds_containers ? "holder" : "", kind.placed_on_host ? "placed" : "",
      appOf(doc, name) && !shown.nodes?.[name] ? "instance" : ""].filter((t) => t);
    out.push({ group: "nodes", data, position, classes: [node.kind, ...traits].join(" ") });
    if (kind.holds_containers && bridgeContainers(doc, name).length) {
      const bridge = `br:${name}`;
      // the bridge goes under its containers, below every container of the host
      const placed = bridgeContainers(doc, name).map((c) => at.get(c)).filter((p) => p) as Point[];
      const all = Object.entries(doc.nodes ?? {}).filter(([, n]) => n.host === name).map(([c]) => at.get(c)).filter((p) => p) as Point[];
      const below = placed.length
        ? { x: placed.reduce((s, p) => s + p.x, 0) / placed.length, y: Math.max(...all.map((p) => p.y)) + 60 }
        : undefined;
      out.push({ group: "nodes", data: { id: bridge, label: "docker0", parent: `n:${name}`, kind: "bridge" }, position: below, classes: "docker0" });
      for (const child of bridgeContainers(doc, name)) {
        const data: Record<string, unknown> = { id: `b:${child}`, source: `n:${child}`, target: bridge };
        if (containerAddress(child)) data.sourceLabel = containerAddress(child);
        out.push({ group: "edges", data, classes: "veth" });
      }
    }
    for (const [ifName, iface] of Object.entries(node.interfaces ?? {})) {
      if (iface.network && doc.networks?.[iface.network]) {
        out.push({
          group: "edges",
          data: { id: `if:${name}:${ifName}`, source: `n:${name}`, target: `net:${iface.network}`, label: ifName,
                  ends: [`${name}:${ifName}`], sourceLabel: endLabel(doc, `${name}:${ifName}`, addresses) },
          classes: "attachment",
        });
      }
    }
    const mode = node.mode ?? "";
    if (kind.placed_on_host && mode.startsWith("overlay:") && doc.networks?.[mode.slice(8)]) {
      const data: Record<string, unknown> = { id: `ov:${name}`, source: `n:${name}`, target: `net:${mode.slice(8)}` };
      if (containerAddress(name)) data.sourceLabel = containerAddress(name);
      out.push({ group: "edges", data, classes: "overlay-member" });
    }
    if (kind.placed_on_host && mode.startsWith("cni:") && doc.networks?.[mode.slice(4)]) {
      out.push({ group: "edges", data: { id: `cni:${name}`, source: `n:${name}`, target: `net:${mode.slice(4)}` },
                 classes: "cni-member" });
    }
  }
  for (const [name, net] of Object.entries(doc.networks ?? {})) {
    if (net.kind === "bridge") continue;
    const position = net.position ? { x: net.position.x, y: net.position.y } : undefined;
    const shape = net.kind === "segment" ? segmentShape(doc, name, at) : null;
    const cni = net.kind === "cni";
    const chained = ((net.config as { plugins?: { type?: string }[] } | undefined)?.plugins ?? []);
    const plugins = cni ? chained.map((p) => p?.type).join(" + ") : "";
    const parent = cni && net.host && doc.nodes?.[net.host] ? { parent: `n:${net.host}` } : {};
    out.push({
      group: "nodes",
      data: { id: `net:${name}`, name, label: cni ? `${name}\nCNI ${plugins}` : `${name}\n${net.subnet ?? ""}`, kind: net.kind,
              ...(shape ? { width: shape.width } : {}), ...parent },
      position,
      classes: shape ? `${net.kind} label-${shape.side}` : net.kind,
    });
  }
  // a service: its virtual IP, with a dashed line to each backend it balances over
  for (const [name, svc] of Object.entries(doc.services ?? {})) {
    const position = svc.position ? { x: svc.position.x, y: svc.position.y } : undefined;
    out.push({ group: "nodes", data: { id: `svc:${name}`, name, label: `${name}\n${svc.address}:${svc.port}`, kind: "service" },
               position, classes: "service" });
    for (const backend of (svc.backends ?? []) as string[]) {
      if (doc.nodes?.[backend]) out.push({ group: "edges", data: { id: `svc:${name}:${backend}`, source: `svc:${name}`, target: `n:${backend}` },
                                           classes: "service-backend" });
    }
  }
  // an app of the orchestrator: one element (its instances are drawn on their agents, named after
  // it; selecting it selects them: lines to them would cross their agents' labels)
  for (const [name, app] of Object.entries(doc.apps ?? {})) {
    const position = app.position ? { x: app.position.x, y: app.position.y } : undefined;
    const count = app.instances ?? 1;
    const vips = Object.entries(app.labels ?? {}).filter(([k]) => /^VIP_\d+$/.test(k)).map(([, v]) => `VIP ${v}`);
    out.push({ group: "nodes", data: { id: `app:${name}`, name, kind: "app",
                                       label: [`${name} ×${count}`, `${app.mode ?? "host"} · ${app.image}`, ...vips].join("\n") },
               position, classes: "app" });
  }
  (doc.links ?? []).forEach((link, index) => {
    const [a, b] = link.endpoints;
    out.push({
      group: "edges",
      data: { id: `l:${index}`, source: `n:${a.split(":")[0]}`, target: `n:${b.split(":")[0]}`,
              label: `${a.split(":")[1]} — ${b.split(":")[1]}`, ends: [a, b],
              sourceLabel: endLabel(doc, a, addresses), targetLabel: endLabel(doc, b, addresses) },
      classes: "link",
    });
  });
  return out;
}

const ICON_SIZES: Record<string, number> = { host: 26, router: 30, switch: 18, container: 15, segment: 14, overlay: 20 };
const LABEL_BACKGROUND = { "text-background-color": "#fbfcfd", "text-background-opacity": 0.85, "text-background-padding": 1 };

/** Widen a container's box to its label (a name with "· locked" outgrows the usual width), so
 *  that its text stays inside and cables end at its border, not across its words. */
export function fitContainer(node: NodeSingular): void {
  if (!node.hasClass("container")) return;
  const longest = Math.max(...String(node.data("label") ?? "").split("\n").map((line) => line.length));
  node.style("width", Math.max(76, Math.round(longest * 6.2 + 28))); // 10 px text, its icon, margins
}

const STYLE: StyleRule[] = [
  { selector: "node", style: { label: "data(label)", "text-wrap": "wrap", "font-size": 11, "text-valign": "bottom",
      "text-margin-y": 4, "background-color": "#4a6fa5", color: "#1d2733", "border-width": 2, "border-color": "#2f4a70",
      ...LABEL_BACKGROUND } },
  { selector: "node.host", style: { shape: "round-rectangle", width: 70, height: 44, "background-color": "#dfe9f7",
      "border-color": "#4a6fa5" } },
  { selector: "node.host:parent", style: { "text-valign": "top", "text-halign": "center", "text-margin-y": -4, padding: 18,
      "background-opacity": 0.6 } },
  { selector: "node.router", style: { shape: "ellipse", width: 46, height: 46, "background-color": "#f4c95d", "border-color": "#b08a1d" } },
  { selector: "node.switch", style: { shape: "rectangle", width: 60, height: 24, "background-color": "#a7c7a0", "border-color": "#4d7a45" } },
  { selector: "node.container", style: { shape: "round-rectangle", width: 76, height: 30, "background-color": "#ffffff",
      "border-color": "#6a7f96", "font-size": 10, "text-valign": "center", "text-margin-y": 0, "text-margin-x": 8,
      "background-position-x": 5 } },
  { selector: "node.docker0", style: { shape: "rectangle", width: 50, height: 14, "background-color": "#c9d3de", "border-width": 1,
      "font-size": 9, "text-valign": "center", "text-margin-y": 0 } },
  // a segment's name sits at its left end, out of the way of the cables plugged in above and below
  { selector: "node.segment", style: { shape: "round-rectangle", width: "data(width)", height: 16, "background-color": "#7f8fa3",
      "border-width": 0, "text-halign": "left", "text-valign": "center", "text-margin-x": -6, "text-margin-y": 0, "text-justification": "right" } },
  { selector: "node.segment.label-right", style: { "text-halign": "right", "text-margin-x": 6, "text-justification": "left" } },
  { selector: "node.overlay", style: { shape: "ellipse", width: 110, height: 34, "background-color": "#e8dcf7",
      "border-style": "dashed", "border-color": "#7a54b0" } },
  // a CNI network sits on its host, like docker0, and says which plugins it chains
  { selector: "node.cni", style: { shape: "round-rectangle", width: 60, height: 14, "background-color": "#d9ead3", "border-width": 1,
      "border-color": "#4f7a43", "font-size": 9, "text-valign": "bottom", "text-margin-y": 3 } },
  ...Object.entries(ICONS).map(([kind, icon]) => ({ selector: `node.${kind}`, style: { "background-image": icon,
      "background-fit": "none", "background-clip": "none", "background-width": ICON_SIZES[kind], "background-height": ICON_SIZES[kind] } })),
  { selector: "node.host:parent", style: { "background-image": "none" } },  // its containers say what it is
  { selector: "node.segment, node.overlay", style: { "background-position-x": 8 } },
  { selector: "edge", style: { width: 2, "line-color": COLORS.idle, "curve-style": "bezier", "font-size": 9,
      "text-rotation": "autorotate", "text-background-color": "#fff", "text-background-opacity": 0.8 } },
  { selector: "edge[label]", style: { label: "data(label)" } },
  // interface names and addresses at the cable ends (the Addresses toggle)
  { selector: "edge.ends", style: { label: "", "font-size": 8, "source-text-offset": 40, "target-text-offset": 40,
      "text-wrap": "wrap", "text-rotation": "none", color: "#35506f", ...LABEL_BACKGROUND } },
  { selector: "edge.ends[sourceLabel]", style: { "source-label": "data(sourceLabel)" } },
  { selector: "edge.ends[targetLabel]", style: { "target-label": "data(targetLabel)" } },
  { selector: "edge.veth", style: { width: 1, "line-style": "dotted" } },
  { selector: "edge.overlay-member", style: { "line-style": "dashed", "line-color": "#7a54b0" } },
  { selector: "edge.cni-member", style: { width: 1, "line-style": "dotted", "line-color": "#4f7a43" } },
  { selector: "node.service", style: { shape: "diamond", width: 26, height: 26, "background-color": "#fbe3c0", "border-width": 2,
      "border-color": "#b86e00", "font-size": 10 } },
  { selector: "edge.service-backend", style: { width: 1, "line-style": "dashed", "line-color": "#b86e00", "target-arrow-shape": "triangle",
      "target-arrow-color": "#b86e00", "arrow-scale": 0.7 } },
  { selector: "node.app", style: { shape: "round-rectangle", width: 34, height: 22, "background-color": "#d4efec",
      "border-width": 2, "border-color": "#2a7f76", "font-size": 10 } },
  { selector: "node.instance", style: { "background-color": "#eef8f7", "border-style": "double", "border-width": 3 } },
  { selector: ".up", style: { "line-color": COLORS.ok } },
  { selector: ".down", style: { "line-color": COLORS.bad, "line-style": "dashed" } },  // not by colour alone
  { selector: "node.running", style: { "border-color": COLORS.ok, "border-width": 3 } },
  { selector: "node.unhealthy", style: { "border-color": COLORS.warn, "border-width": 4, "border-style": "dashed" } },
  { selector: "node.failed, node.exited", style: { "border-color": COLORS.bad, "border-width": 4, "border-style": "dashed" } },
  { selector: ".problem", style: { "border-color": COLORS.bad, "border-width": 4, "border-style": "double", "line-color": COLORS.bad,
      "line-style": "dashed" } },
  { selector: "node.check-passed", style: { "underlay-color": COLORS.ok, "underlay-opacity": 0.25, "underlay-padding": 8 } },
  { selector: "node.check-failed", style: { "underlay-color": COLORS.bad, "underlay-opacity": 0.3, "underlay-padding": 8 } },
  { selector: ":selected", style: { "overlay-color": "#1a6ad6", "overlay-opacity": 0.15, "overlay-padding": 6 } },
  { selector: ".eh-handle", style: { "background-color": "#1a6ad6", width: 10, height: 10, shape: "ellipse", "border-width": 0 } },
  { selector: ".eh-ghost-edge, .eh-preview", style: { "line-color": "#1a6ad6", "line-style": "dashed" } },
];

/** Big labs draw a texture while panning and zooming, and leave edges out meanwhile. */
const BIG_LAB = 200;

export function createCanvas(container: HTMLElement): Core {
  const style = [...STYLE, ...JOURNEY_STYLE] as unknown as StylesheetStyle[];
  return cytoscape({ container, style, boxSelectionEnabled: true, minZoom: 0.05, maxZoom: 3 });
}

/** Settings that keep panning smooth for the lab's size; call after the elements are in. */
export function tuneForSize(cy: Core): void {
  const big = cy.nodes().length > BIG_LAB;
  const renderer = cy.renderer();
  renderer.textureOnViewport = big;
  renderer.hideEdgesOnViewport = big;
}

/** Show (or hide) interface names and addresses at the ends of every cable. */
export function showEnds(cy: Core, on: boolean): void {
  cy.batch(() => (on ? cy.edges().addClass("ends") : cy.edges().removeClass("ends")));
}

/** Lay the lab out automatically; resolves when the nodes are in place (and fitted). */
export function runLayout(cy: Core, animate = true): Promise<void> {
  const layout = cy.layout({ name: "elk", animate, fit: true, padding: 30,
                             elk: { algorithm: "layered", "elk.direction": "DOWN", "spacing.nodeNode": 50,
                                    // room along each cable for the labels at its ends
                                    "elk.layered.spacing.nodeNodeBetweenLayers": 110 } } as LayoutOptions);
  const done = new Promise<void>((resolve) => layout.one("layoutstop", () => resolve()));
  layout.run();
  return done;
}

/** Mark elements that validation problems concern; returns problems no element took. */
export function markProblems(cy: Core, problems: Problem[]): Problem[] {
  cy.elements().removeClass("problem").removeData("problems");
  const unplaced: Problem[] = [];
  for (const problem of problems) {
    const element = elementFor(cy, problem.path);
    if (!element || element.empty()) {
      unplaced.push(problem);
      continue;
    }
    if (problem.severity === "error") element.addClass("problem");
    element.data("problems", [...(element.data("problems") ?? []), problem]);
  }
  return unplaced;
}

function elementFor(cy: Core, path: string) {
  let match = path.match(/^nodes\.([^.[]+)/);
  if (match) return cy.getElementById(`n:${match[1]}`);
  match = path.match(/^networks\.([^.[]+)/);
  if (match) return cy.getElementById(`net:${match[1]}`);
  match = path.match(/^links\[(\d+)\]/);
  if (match) return cy.getElementById(`l:${match[1]}`);
  return null;
}
