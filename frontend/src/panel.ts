// The side panel: edits the selected element, shows its live state and its controls.
import type { LabDocument, NetworkDocument, NodeDocument, Problem } from "./api";
import { allows, kindOf } from "./kinds";
import { type AssignedAddresses, type AssignedPorts, type Gateways, type Instances, appOf, portEntry } from "./canvas";
import type { LiveState } from "./live";
import { esc } from "./dom";
import { NODE_FIELDS } from "./fields";
import { dockerRunLine } from "./dockerrun";

export type Selection =
  | { type: "node"; name: string }
  | { type: "network"; name: string }
  | { type: "link"; index: number }
  | { type: "attachment"; node: string; iface: string }
  | { type: "app"; name: string }
  | null;

export { esc };

function field(label: string, name: string, value: unknown, attrs = ""): string {
  return `<label>${label}<input data-field="${name}" value="${esc(value)}" ${attrs}></label>`;
}

function area(label: string, name: keyof typeof NODE_FIELDS, node: NodeDocument, hint = ""): string {
  const text = NODE_FIELDS[name].text(node);
  return `<label>${label}<textarea data-field="${name}" rows="3" placeholder="${esc(hint)}">${esc(text)}</textarea></label>`;
}

/** A number the impairment form reads when it is applied (not a field of the document). */
function setting(label: string, name: string, value: unknown, attrs: string): string {
  return `<label>${label}<input data-impair="${name}" value="${esc(value)}" type="number" min="0" ${attrs}></label>`;
}

function problemsHtml(problems: Problem[]): string {
  if (!problems.length) return "";
  return `<ul class="problems">${problems
    .map((p) => `<li class="${p.severity}">${/^(nodes|networks)\.|^links\[/.test(p.path)
      ? `<button class="path" data-path="${esc(p.path)}" title="Show it on the diagram">${esc(p.path)}</button>`
      : `<b>${esc(p.path || "lab")}</b>`}: ${esc(p.message)}</li>`)
    .join("")}</ul>`;
}

/** The host ports given to a node's `auto` ports, e.g. `PORT0 = 31000` (host mode). */
function handedOut(name: string, node: NodeDocument, assigned: AssignedPorts): string {
  return ((node.ports ?? []) as unknown[]).map((raw, index) => {
    const port = portEntry(raw);
    const value = assigned[`${name}:${index}`];
    if (port.host !== "auto" || value === undefined) return "";
    return (node.mode ?? "bridge") === "host" ? `PORT${index} = ${value}` : `auto → ${value}`;
  }).filter(Boolean).join(", ");
}

function cableControls(end: string, live: LiveState, planned: AssignedAddresses = {}, switchPort = false): string {
  const link = live.links[end];
  // a pulled cable is down whatever the far end's carrier said last
  const running = !["draft", "stopped"].includes(live.status.status);
  const state = link ? (link.cable === "pulled" ? "down (cable pulled)" : link.oper ?? "?")
    : running && switchPort ? "a port of the switch's bridge (its cable's state shows at the other end)"
    : "not deployed";
  const addresses = link?.addresses?.length ? ` · ${link.addresses.join(", ")}`
    : planned[end] ? ` · ${planned[end]} once deployed` : "";
  const counters = live.counters[end];
  const traffic = counters
    ? `<div class="muted">rx ${counters.rx_packets} pkts (${Math.round(counters.rx_bps / 1000)} kbit/s), tx ${counters.tx_packets} pkts (${Math.round(counters.tx_bps / 1000)} kbit/s)</div>`
    : "";
  const look = link?.cable === "pulled" ? "down" : link?.oper;
  return `<div class="end" data-end="${esc(end)}"><b>${esc(end)}</b>: <span class="state-${esc(look)}">${esc(state)}</span>${esc(addresses)}${traffic}</div>`;
}

function impairmentForm(ends: string[], live: LiveState): string {
  const current = live.impairments[ends[0]] ?? {};
  return `<fieldset><legend>Impairment (what the ${ends.length > 1 ? "ends receive" : "interface receives"})</legend>
    ${setting("Delay ms", "delay_ms", current.delay_ms ?? 0, "")}
    ${setting("Jitter ms", "jitter_ms", current.jitter_ms ?? 0, "")}
    ${setting("Loss %", "loss_pct", current.loss_pct ?? 0, 'max="100"')}
    ${setting("Rate kbit/s (0: none)", "rate_kbit", current.rate_kbit ?? 0, "")}
    ${current.error ? `<div class="error">${esc(current.error)}</div>` : ""}
    <button data-action="impair">Apply impairment</button></fieldset>`;
}

/** Where a lab spanning lab hosts runs (the lab API's `spans`): each node's lab host, and each
 *  segment stitched between lab hosts with its VNI and MTU. */
export type Spans = {
  labhosts?: Record<string, string>;
  stitches?: { segment: string; labhosts: string[]; vni: number; mtu: number }[];
};

function stitchHtml(spans: Spans, segment: string): string {
  const stitch = spans.stitches?.find((s) => s.segment === segment);
  if (!stitch) return "";
  return `<div class="stitch">stitched between lab hosts ${esc(stitch.labhosts.join(" and "))}: VXLAN (VNI ${esc(stitch.vni)})
    over their underlay; MTU <b>${esc(stitch.mtu)}</b> (the VXLAN header takes 50 bytes)</div>`;
}

/** What a container's CNI chain gave it (its result: interfaces, ips, routes), as the plugins said. */
/** A CNI plugin chain's result (the CNI spec's): interfaces, addresses, routes. */
export interface CniResult {
  interfaces?: { name: string; sandbox?: string }[];
  ips?: { interface?: number; address: string; gateway?: string }[];
}

function cniHtml(node: NodeDocument, result: CniResult | undefined): string {
  if (!(node.mode ?? "").startsWith("cni:")) return "";
  if (!result) return '<h3>CNI</h3><p class="muted">not added yet: deploy the lab</p>';
  const ifaces = result.interfaces ?? [];
  const where = (i: { sandbox?: string }) => (i.sandbox ? "in the container" : "on the host");
  const ips = (result.ips ?? []).map((ip) =>
    `<li>${esc(ifaces[ip.interface ?? -1]?.name ?? "")} ${esc(ip.address)}${ip.gateway ? ` gateway ${esc(ip.gateway)}` : ""}</li>`);
  return `<h3>CNI result <span class="muted">(from the plugins)</span></h3><ul class="cni-ips">${ips.join("")}</ul>
    <p class="muted cni-interfaces">made: ${ifaces.map((i) => `${esc(i.name)} ${where(i)}`).join(", ")}</p>`;
}

export function renderPanel(doc: LabDocument, selection: Selection, live: LiveState, problems: Problem[], conflicts: Map<string, string>,
  assigned: AssignedPorts = {}, addresses: AssignedAddresses = {}, spans: Spans = {}, cni: Record<string, CniResult> = {},
  gateways: Gateways = {}, instances: Instances = {}): string {
  if (!selection) return labSummary(doc, live, problems, spans);
  const app = selection.type === "app" ? selection.name : selection.type === "node" && !doc.nodes?.[selection.name]
    ? appOf(doc, selection.name) : null;  // an instance shows its app
  if (app && doc.apps?.[app]) return appPanel(doc, app, live, problems.filter((p) => p.path.startsWith(`apps.${app}`)), assigned, instances);
  if (selection.type === "app") return labSummary(doc, live, problems, spans);
  if (selection.type === "node") {
    const node = doc.nodes?.[selection.name];
    if (!node) return labSummary(doc, live, problems, spans);
    const where = spans.labhosts?.[selection.name];
    return (where ? `<div class="muted labhost">runs on lab host <b>${esc(where)}</b></div>` : "") +
      nodePanel(doc, selection.name, node, live, problems.filter((p) => p.path.startsWith(`nodes.${selection.name}`)), conflicts, assigned, addresses,
        gateways[selection.name]) +
      cniHtml(node, cni[selection.name]);
  }
  if (selection.type === "network") {
    const net = doc.networks?.[selection.name];
    if (!net) return labSummary(doc, live, problems, spans);
    return networkPanel(selection.name, net, problems.filter((p) => p.path.startsWith(`networks.${selection.name}`)), conflicts) +
      stitchHtml(spans, selection.name);
  }
  if (selection.type === "attachment") {
    const end = `${selection.node}:${selection.iface}`;
    return `<h2>Cable ${esc(end)}</h2>${cableControls(end, live, addresses)}
      <div class="buttons"><button data-action="pull">Pull cable</button><button data-action="plug">Plug cable</button>
      <button data-action="capture">Capture 10 s</button></div>${impairmentForm([end], live)}`;
  }
  const link = doc.links?.[selection.index];
  if (!link) return labSummary(doc, live, problems, spans);
  const onSwitch = (end: string) => kindOf(doc.nodes?.[end.split(":")[0]]).bridges_ports;
  return `<h2>Link</h2>${link.endpoints.map((e) => cableControls(e, live, addresses, onSwitch(e))).join("")}
    ${stitchHtml(spans, [...link.endpoints].sort().join(" -- "))}
    ${field("Subnet", "subnet", link.subnet ?? "")}
    <div class="buttons"><button data-action="pull">Pull cable</button><button data-action="plug">Plug cable</button>
    <button data-action="capture">Capture 10 s</button></div>
    ${impairmentForm(link.endpoints, live)}
    ${problemsHtml(problems.filter((p) => p.path.startsWith(`links[${selection.index}]`)))}`;
}

/** `gateway: auto` (a host on one router's networks routes the rest through it) or `none`. */
function gatewayField(node: NodeDocument, given?: Gateways[string]): string {
  const value = NODE_FIELDS.gateway.text(node);
  const options = ["auto", "none"].map((o) => `<option ${o === value ? "selected" : ""}>${o}</option>`).join("");
  const own = (node.routes ?? []).some((r) => r.to === "default");
  const said = given ? `default via ${esc(given.via)} (${esc(given.router)}), given by auto`
    : own ? "its own default route is used" : value === "none" ? "no default route is added"
    : "no router alone on its networks: no route added";
  return `<label>Gateway<select data-field="gateway">${options}</select></label><div class="muted gateway">${said}</div>`;
}

/** What the kernel says of a running node: its addresses and routes. */
function kernelView(name: string, node: NodeDocument, live: LiveState, addresses: AssignedAddresses): string {
  const parts: string[] = [];
  const ends = Object.entries(live.links).filter(([end, link]) => end.startsWith(`${name}:`) && link.addresses?.length);
  const own = ends.map(([end, link]) => `<li><b>${esc(end.split(":")[1])}</b> ${esc((link.addresses ?? []).join(", "))}</li>`);
  if (!own.length && kindOf(node).placed_on_host && (node.address ?? addresses[name])) own.push(`<li>${esc(node.address ?? addresses[name])}</li>`);
  if (own.length) parts.push(`<h3>Addresses</h3><ul class="addresses">${own.join("")}</ul>`);
  const routes = live.routes[name]?.routes ?? [];
  if (routes.length) {
    parts.push(`<h3>Routes <span class="muted">(from the kernel)</span></h3><ul class="routes">${routes.map((r) =>
      `<li>${esc(r.to)}${r.via ? ` via ${esc(r.via)}` : ""}${r.dev ? ` dev ${esc(r.dev)}` : ""}</li>`).join("")}</ul>`);
  }
  return parts.join("");
}

function nodePanel(doc: LabDocument, name: string, node: NodeDocument, live: LiveState, problems: Problem[], conflicts: Map<string, string>,
  assigned: AssignedPorts, addresses: AssignedAddresses, gateway?: Gateways[string]): string {
  const liveNode = live.nodes[name];
  const conflict = conflicts.get(`n:${name}`);
  const hosts = Object.entries(doc.nodes ?? {}).filter(([, n]) => kindOf(n).holds_containers).map(([n]) => n);
  const overlays = Object.entries(doc.networks ?? {}).filter(([, n]) => n.kind === "overlay").map(([n]) => n);
  const parts = [`<h2>${esc(node.kind)} ${esc(name)}</h2>`];
  if (liveNode) parts.push(`<div class="live ${esc(liveNode.state)}">${esc(liveNode.state)}${liveNode.reason ? `: ${esc(liveNode.reason)}` : ""}</div>`);
  parts.push(field("Name", "name", conflict ?? name, conflict ? 'class="invalid"' : ""));
  if (conflict) parts.push(`<div class="error">another element is already named '${esc(conflict)}'</div>`);
  const kind = kindOf(node);
  if (allows(node, "image")) parts.push(field("Image", "image", node.image ?? "", `placeholder="${esc(kind.default_image ?? "")}"`));
  if (allows(node, "host")) {
    parts.push(`<label>Host<select data-field="host">${hosts.map((h) => `<option ${h === node.host ? "selected" : ""}>${esc(h)}</option>`).join("")}</select></label>`);
    const modes = ["host", "bridge", "none", ...overlays.map((o) => `overlay:${o}`)];
    parts.push(`<label>Mode<select data-field="mode">${modes.map((m) => `<option ${m === (node.mode ?? "bridge") ? "selected" : ""}>${esc(m)}</option>`).join("")}</select></label>`);
    parts.push(field("Command", "command", NODE_FIELDS.command.text(node), 'placeholder="the image\'s own; sh -c \'...\' for a shell line"'));
    parts.push(field("Ports", "ports", NODE_FIELDS.ports.text(node), 'placeholder="10000:80, auto:443 (bridge) or 80, auto (host)"'));
    const handed = handedOut(name, node, assigned);
    if (handed) parts.push(`<div class="muted handed-out">handed out: ${esc(handed)}</div>`);
    parts.push(area("Environment", "env", node, "KEY=value"));
    if (node.host) parts.push(`<h3>As a docker command</h3><div class="docker-run"><code>${esc(dockerRunLine(name, node))}</code>
      <div class="muted">typed in ${esc(node.host)}'s console, it makes this container</div></div>`);
  }
  if (allows(node, "routes")) {
    parts.push(`<h3>Interfaces</h3>`);
    for (const [ifName, iface] of Object.entries(node.interfaces ?? {})) {
      parts.push(`<div class="iface">${esc(ifName)} on ${esc(iface.network ?? "a link")}
        ${field("Address", "address", iface.address ?? "", `data-iface="${esc(ifName)}" placeholder="automatic"`)}</div>`);
    }
    for (const link of doc.links ?? []) {
      for (const end of link.endpoints) if (end.startsWith(`${name}:`)) parts.push(cableControls(end, live, addresses));
    }
    for (const [ifName] of Object.entries(node.interfaces ?? {})) parts.push(cableControls(`${name}:${ifName}`, live, addresses));
    const bridge = addresses[`${name}:docker0`];
    const running = !["draft", "stopped"].includes(live.status.status);
    if (bridge) parts.push(`<div class="end docker0"><b>${esc(name)}:docker0</b>: ${esc(bridge)}${running ? "" : " once deployed"}
      <span class="muted">· the bridge of its bridge-mode containers, their gateway</span></div>`);
    parts.push(area("Routes", "routes", node, "default via 198.18.0.1"));
    if (allows(node, "gateway")) parts.push(gatewayField(node, gateway));
  }
  if (allows(node, "exec")) parts.push(area("Startup commands", "exec", node, "one command a line"));
  parts.push(kernelView(name, node, live, addresses));
  const ports = live.ports[name]?.listening ?? [];
  if (ports.length) parts.push(`<h3>Listening</h3><ul>${ports.map((p) => `<li>${esc(p.protocol)} ${esc(p.port)} ${esc(p.process)}</li>`).join("")}</ul>`);
  const published = live.published.filter((p) => p.host === name);
  if (published.length) parts.push(`<h3>Published</h3><ul>${published.map((p) => `<li>${esc(name)}:${esc(p.host_port)} → ${esc(p.container)}:${esc(p.port)}</li>`).join("")}</ul>`);
  if (kind.has_container && liveNode) parts.push(`<div class="buttons"><button data-action="console">Console</button><button data-action="restart">Restart</button>${
    kind.sandboxed ? '<button data-action="nat">NAT table</button>' : ""}</div>`);
  if (kind.sandboxed) parts.push('<div id="nat-view"></div>');
  if (kind.has_container && liveNode?.state === "running") parts.push(traceForm());
  parts.push(problemsHtml(problems));
  return parts.join("");
}

function networkPanel(name: string, net: NetworkDocument, problems: Problem[], conflicts: Map<string, string>): string {
  const conflict = conflicts.get(`net:${name}`);
  const cni = net.kind === "cni"
    ? `<p>run by the CNI reference plugins in host <b>${esc(net.host ?? "")}</b>'s namespace:</p>
       <pre class="cni-config">${esc(JSON.stringify(net.config ?? {}, null, 2))}</pre>`
    : field("Subnet", "subnet", net.subnet ?? "");
  return `<h2>${esc(net.kind)} ${esc(name)}</h2>${field("Name", "name", conflict ?? name, conflict ? 'class="invalid"' : "")}
    ${conflict ? `<div class="error">another element is already named '${esc(conflict)}'</div>` : ""}
    ${cni}${problemsHtml(problems)}`;
}

function labSummary(doc: LabDocument, live: LiveState, problems: Problem[], spans: Spans = {}): string {
  const published = live.published.map((p) => `<li>${esc(p.host)}:${esc(p.host_port)} → ${esc(p.container)}:${esc(p.port)}</li>`).join("");
  const hosts = [...new Set(Object.values(spans.labhosts ?? {}))].sort();
  const stitched = (spans.stitches ?? []).map((s) =>
    `<li><b>${esc(s.segment)}</b>: ${esc(s.labhosts.join(" ↔ "))}, VNI ${esc(s.vni)}, MTU ${esc(s.mtu)}</li>`).join("");
  const services = Object.entries(doc.services ?? {}).map(([name, s]) =>
    `<li><b>${esc(name)}</b> ${esc(s.address)}:${esc(s.port)}${s.protocol === "udp" ? "/udp" : ""} → ${esc((s.backends ?? []).join(", "))}</li>`).join("");
  return `<h2>${esc(doc.name)}</h2><p class="muted">${esc(doc.description ?? "")}</p>
    <p class="how-to">Drag from the palette to add, drag from a node's handle to another to connect; select to edit.</p>
    ${services ? `<h3>Services <span class="muted">(balanced round robin by every host's kernel)</span></h3><ul class="services">${services}</ul>` : ""}
    ${hosts.length ? `<h3>Lab hosts</h3><p class="spans">runs on ${esc(hosts.join(", "))}</p><ul class="stitches">${stitched}</ul>` : ""}
    ${published ? `<h3>Published ports</h3><ul>${published}</ul>` : ""}
    <h3>Problems</h3>${problems.length ? problemsHtml(problems) : '<p class="muted">none</p>'}`;
}

/** A host's NAT as its kernel has it: rules with counters, then tracked connections with the
 *  rewrite each one shows (original tuple → reply tuple). */
/** A host's NAT as the lab host reads it (worker/natview.py). */
export interface NatView {
  rules: { chain: string; rule: string; packets?: number; bytes?: number }[];
  connections: { protocol: string; original: Tuple; reply: Tuple; dnat?: boolean; snat?: boolean; state?: string }[];
}
type Tuple = { src: string; dst: string; sport?: number; dport?: number };

export function natHtml(node: string, view: NatView, when: string): string {
  const tuple = (t: Tuple) => `${esc(t.src)}${t.sport ? `:${esc(t.sport)}` : ""} → ${esc(t.dst)}${t.dport ? `:${esc(t.dport)}` : ""}`;
  const rules = view.rules.length
    ? `<table class="nat"><tr><th>chain</th><th>rule</th><th>packets</th><th>bytes</th></tr>${view.rules.map((r) =>
      `<tr><td>${esc(r.chain)}</td><td><code>${esc(r.rule)}</code></td><td>${esc(r.packets ?? "")}</td><td>${esc(r.bytes ?? "")}</td></tr>`).join("")}</table>`
    : '<p class="muted">no NAT rules: nothing published, nothing masqueraded</p>';
  const rewrites = view.connections.filter((c) => c.dnat || c.snat);
  const connections = rewrites.length
    ? `<ul class="conntrack">${rewrites.map((c) => `<li><b>${esc(c.protocol)}</b> ${tuple(c.original)}<br>
        ↳ reply ${tuple(c.reply)} <span class="muted">${c.dnat ? "DNAT" : ""}${c.dnat && c.snat ? " + " : ""}${c.snat ? "masquerade" : ""}
        ${esc(c.state)}</span></li>`).join("")}</ul>`
    : '<p class="muted">no rewritten connections tracked now</p>';
  return `<h3>NAT on ${esc(node)} <span class="muted">(read from the kernel at ${esc(when)})</span></h3>${rules}
    <h3>Connections rewritten</h3>${connections}`;
}

/** Trace a probe from the selected node: where to, which protocol and port. */
function traceForm(): string {
  return `<section class="trace"><h3>Trace a packet</h3><div class="trace-form">
    <label>To<input id="trace-target" placeholder="address or name" maxlength="253"></label>
    <label>Protocol<select id="trace-protocol"><option>icmp</option><option>tcp</option><option>udp</option></select></label>
    <label>Port<input id="trace-port" type="number" min="1" max="65535" placeholder="tcp, udp"></label>
    <button data-action="trace">Trace</button></div><div id="trace-view"></div></section>`;
}


type AppDocument = NonNullable<LabDocument["apps"]>[string];

function appField(label: string, name: string, value: unknown, attrs = ""): string {
  return `<label>${label}<input data-app-field="${name}" value="${esc(value)}" ${attrs}></label>`;
}

/** An app of the orchestrator: its fields, a scale control, its instances where they run. */
function appPanel(doc: LabDocument, name: string, live: LiveState, problems: Problem[], assigned: AssignedPorts,
  instances: Instances): string {
  const app = doc.apps![name] as AppDocument;
  const rows = Object.entries(instances).filter(([i]) => appOf(doc, i) === name).sort().map(([instance, agent]) => {
    const health = live.nodes[instance]?.state === "running" ? live.health[instance] : undefined;
    const state = !health ? live.nodes[instance]?.state ?? "not deployed"
      : health.healthy ? "running, healthy" : `running, unhealthy: ${health.cause ?? ""}`;
    const ports = (app.ports ?? []).map((_, index) => assigned[`${instance}:${index}`]).filter((p) => p !== undefined);
    const shown = ports.length ? ` · ${app.mode === "bridge" ? "published" : "PORT0"} ${ports.join(", ")}` : "";
    const look = health && !health.healthy ? "unhealthy" : live.nodes[instance]?.state ?? "";
    return `<li><b>${esc(instance)}</b> on ${esc(agent)}${esc(shown)} · <span class="state-${esc(look)}">${esc(state)}</span></li>`;
  }).join("");
  const command = Array.isArray(app.command) ? JSON.stringify(app.command) : app.command ?? "";
  const ports = (app.ports ?? []).map((p) => (typeof p === "object" ? JSON.stringify(p) : String(p))).join(", ");
  return `<h2>App ${esc(name)} <span class="muted">(orchestrator)</span></h2>
    <div class="scale"><label>Instances<input id="scale-to" type="number" min="0" max="50" value="${esc(app.instances ?? 1)}"></label>
      <button data-action="scale">Scale</button></div>
    ${appField("Image", "image", app.image)}
    ${appField("Command", "command", command, 'placeholder="httpd -f -p $PORT0"')}
    ${appField("Mode", "mode", app.mode ?? "host", 'placeholder="host, bridge or overlay:NETWORK"')}
    ${appField("Ports", "ports", ports, 'placeholder="auto (brokered: PORT0), 80, auto:80 (bridge)"')}
    ${problemsHtml(problems)}
    <h3>Instances</h3><ul class="instances">${rows || "<li class=\"muted\">none placed yet: deploy the lab</li>"}</ul>
    <h3>The app in the lab document</h3><pre class="app-json">${esc(JSON.stringify(app, null, 2))}</pre>
    <p class="muted">From any node of the running lab: <code>curl http://marathon:8080/v2/apps/${esc(name)}</code></p>`;
}

