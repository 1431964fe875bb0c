/** A packet's journey on the diagram: the places a traced probe went through, in order, listed in
 *  the panel and walked by a dot on the canvas with each rewrite (DNAT, SNAT, their undoing) and
 *  each tunnel as its label. */
import type { Core, NodeSingular, SingularAnimationOptionsPos } from "cytoscape";
import type { LabDocument } from "./api";
import { esc } from "./dom";
import type { StyleRule } from "./style";

export interface Hop {
  leg: "request" | "reply" | "error";
  node: string;
  iface: string;
  cable: string;
  direction: "in" | "out";
  packet: Packet;
  rewrite?: { kind: string; from: string; to: string; at: string; conntrack?: { original: unknown; reply: unknown } };
  tunnel?: { kind: string; vni: number; src: string; dst: string };
  ms: number;
}

/** A packet as a hop saw it (worker/frames.py). */
export interface Packet { protocol: string; src: string; dst: string; sport?: number; dport?: number; icmp?: string; flags?: string }

export interface Journey {
  probe: { from: string; to: string; address: string; protocol: string; port: number; source: string };
  hops: Hop[];
  outcome: { result: string; at: string; reason: string };
  seconds: number;
  unseen_labhosts?: string[]; // a lab spanning lab hosts: the hops there are not seen
}

/** One place on the way: consecutive hops at the same node or cable, with what happened there. */
export interface Stop {
  place: string; // "h1", or "cable h1:eth0"
  element: string; // the diagram element it is drawn at
  leg: Hop["leg"];
  packet: string;
  rewrites: string[];
  tunnel: string;
}

const PACKET = "trace:packet";

function packetText(p: Packet): string {
  const end = (address: string, port?: number) => (p.protocol === "icmp" || !port ? address : `${address}:${port}`);
  const what = p.protocol === "icmp" ? p.icmp : `${p.protocol}${p.flags ? ` ${p.flags}` : ""}`;
  return `${end(p.src, p.sport)} → ${end(p.dst, p.dport)} (${what})`;
}

/** The diagram element of a cable ("node:iface"): its interface edge, or the link that has it. */
function cableElement(doc: LabDocument, cable: string): string {
  const index = (doc.links ?? []).findIndex((link) => link.endpoints.includes(cable));
  return index >= 0 ? `l:${index}` : `if:${cable}`;
}

export function stops(journey: Journey, doc: LabDocument): Stop[] {
  const out: Stop[] = [];
  for (const hop of journey.hops) {
    const place = hop.node || `cable ${hop.cable}`;
    let stop = out[out.length - 1];
    if (!stop || stop.place !== place || stop.leg !== hop.leg) {
      const element = hop.node ? `n:${hop.node}` : cableElement(doc, hop.cable);
      stop = { place, element, leg: hop.leg, packet: packetText(hop.packet), rewrites: [], tunnel: "" };
      out.push(stop);
    }
    stop.packet = packetText(hop.packet); // as it was last seen there
    if (hop.rewrite) stop.rewrites.push(`${hop.rewrite.kind} ${hop.rewrite.from} → ${hop.rewrite.to}`);
    if (hop.tunnel && !stop.tunnel) stop.tunnel = `VXLAN ${hop.tunnel.src} → ${hop.tunnel.dst}, VNI ${hop.tunnel.vni}`;
  }
  return out;
}

export function journeyHtml(journey: Journey, walk: Stop[]): string {
  const { probe, outcome } = journey;
  const target = probe.port ? `${probe.to}:${probe.port}` : probe.to;
  const items = walk.map((s, i) => `<li data-index="${i}" class="leg-${s.leg}"><b>${esc(s.place)}</b>
    <span class="muted">${esc(s.leg)}</span><br><code>${esc(s.packet)}</code>
    ${s.rewrites.map((r) => `<br><span class="rewrite">${esc(r)}</span>`).join("")}
    ${s.tunnel ? `<br><span class="tunnel">${esc(s.tunnel)}</span>` : ""}</li>`).join("");
  return `<h3>Journey ${esc(probe.protocol)} ${esc(probe.from)} → ${esc(target)}
      <span class="muted">(${esc(probe.address)}, ${esc(journey.seconds)} s)</span></h3>
    <p class="outcome outcome-${esc(outcome.result)}"><b>${esc(outcome.result)}</b> at ${esc(outcome.at)}: ${esc(outcome.reason)}</p>
    ${journey.unseen_labhosts?.length ? `<p class="muted">traced on ${esc(probe.from)}'s lab host: hops on
      ${esc(journey.unseen_labhosts.join(", "))} are not shown</p>` : ""}
    <ol class="journey">${items}</ol>`;
}

function positionOf(cy: Core, element: string): { x: number; y: number } | null {
  const found = cy.getElementById(element);
  if (found.empty()) return null;
  return found.isEdge() ? found.midpoint() : { ...(found as NodeSingular).position() };
}

/** Walk the dot through the stops, `pace` ms each; `onStop(i)` as it arrives at each (the panel
 *  marks it, and a `wirelab:hop` event says so). Ends with the outcome as the dot's label. */
export async function animate(cy: Core, walk: Stop[], outcome: Journey["outcome"], onStop: (index: number) => void,
  pace = 420): Promise<void> {
  clearJourney(cy);
  const first = walk.map((s) => positionOf(cy, s.element)).find(Boolean);
  if (!first) return;
  const dot = cy.add({ group: "nodes", data: { id: PACKET, label: "" }, position: first, classes: "packet" });
  dot.ungrabify();
  dot.unselectify();
  for (const [index, stop] of walk.entries()) {
    const at = positionOf(cy, stop.element);
    if (dot.removed()) return; // a newer trace took over
    cy.elements(".traced-now").removeClass("traced-now");
    cy.getElementById(stop.element).addClass("traced traced-now");
    dot.data("label", stop.rewrites[0] ?? (stop.tunnel ? "VXLAN" : ""));
    dot.toggleClass("reply", stop.leg !== "request");
    const move = { position: at, duration: pace } as unknown as SingularAnimationOptionsPos; // its types ask for every option
    if (at) await dot.animation(move).play().promise();
    onStop(index);
    window.dispatchEvent(new CustomEvent("wirelab:hop", { detail: { index, place: stop.place, leg: stop.leg } }));
  }
  if (!dot.removed()) dot.data("label", `${outcome.result} at ${outcome.at}`);
}

export function clearJourney(cy: Core): void {
  cy.getElementById(PACKET).remove();
  cy.elements(".traced").removeClass("traced traced-now");
}

export const JOURNEY_STYLE: StyleRule[] = [
  { selector: "node.packet", style: { shape: "ellipse", width: 14, height: 14, "background-color": "#e07a00", "border-width": 2,
      "border-color": "#ffffff", "z-index": 999, "font-size": 10, "font-weight": "bold", color: "#8a4300", "text-valign": "top",
      "text-margin-y": -4, events: "no" } }, // never in the way of a click on what it sits on
  { selector: "node.packet.reply", style: { "background-color": "#1a6ad6", color: "#0d3d80" } },
  { selector: ".traced", style: { "underlay-color": "#e07a00", "underlay-opacity": 0.18, "underlay-padding": 6 } },
  { selector: ".traced-now", style: { "underlay-opacity": 0.4 } },
];
