// The page of a share link, `/s/#<token>`: the lab's diagram with its live state, read-only;
// a clone link adds "Copy into my labs". The token never leaves the page except in the API's
// header and the view socket's first message.
import type { Core } from "cytoscape";
import { ApiError, type Shared, sharedApi } from "./api";
import { createCanvas, elements, runLayout, showEnds, tuneForSize } from "./canvas";
import { loadKinds } from "./kinds";
import { LiveConnection, emptyState, eventAs, paint, type LiveState } from "./live";
import { Minimap } from "./minimap";
import { esc, renderPanel, type Selection } from "./panel";

const TOKEN_KEY = "wirelab-share-token";
const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector(selector) as T;

/** The token from the fragment; kept for this tab so that signing in (which drops the
 *  fragment) comes back to the same link. */
function shareToken(): string {
  const fromHash = decodeURIComponent(location.hash.slice(1));
  if (fromHash) sessionStorage.setItem(TOKEN_KEY, fromHash);
  return fromHash || sessionStorage.getItem(TOKEN_KEY) || "";
}

/** What the owner shows when presenting: the part of the diagram, and what is selected. */
interface Presented { extent: { x1: number; y1: number; x2: number; y2: number }; selected: string[] }

export class Viewer {
  cy: Core;
  shared: Shared | null = null; // what the link shows (null once it is gone)
  live: LiveState = emptyState();
  selection: Selection = null;
  connection: LiveConnection | null = null;
  presented: Presented | null = null;
  stored = 0; // when the lab's document shown was stored (ms): a newer one is read again
  private api: ReturnType<typeof sharedApi>;

  constructor(private root: HTMLElement) {
    this.token = shareToken();
    this.api = sharedApi(this.token);
    this.cy = createCanvas($("#canvas"));
  }

  token: string;

  async start(): Promise<void> {
    if (!this.token) return this.gone("This link is incomplete: ask for the whole link, with the part after #.");
    await loadKinds();
    try {
      this.shared = await this.api.get();
    } catch (error) {
      const status = (error as ApiError).status;
      return this.gone(status === 404 ? "This link does not exist, has expired or was revoked." : (error as Error).message);
    }
    const { lab, document: doc } = this.shared;
    this.stored = Date.parse(lab.updated);
    document.title = `${lab.name} · shared · Wirelab`;
    $("#lab-name").textContent = lab.name;
    $("#owner").textContent = `shared by ${lab.owner}${this.shared.snapshot ? " · a snapshot" : ""}`;
    this.status(lab.status, lab.status_reason);
    this.cy.add(elements(doc, this.shared.assigned_ports ?? {}, this.shared.assigned_addresses ?? {}));
    showEnds(this.cy, this.cy.nodes().length <= 60);
    tuneForSize(this.cy);
    this.cy.autoungrabify(true);
    const placed = this.cy.nodes().filter((n) => !n.isParent() && (n.position().x !== 0 || n.position().y !== 0));
    if (placed.length < this.cy.nodes().filter((n) => !n.isParent()).length) await runLayout(this.cy, false);
    this.cy.resize();
    this.cy.fit(undefined, 30);
    new Minimap(this.cy, $("#workspace"));
    this.events();
    const canView = this.shared.mode !== "clone";
    if (this.shared.mode !== "view") $("#clone").hidden = false;
    if (this.shared.present) $("#follow-box").hidden = false;
    if (canView && !this.shared.snapshot) this.connect();
    else $("#live").textContent = this.shared.snapshot ? "snapshot" : "";
    this.renderPanel();
  }

  connect(): void {
    this.connection = new LiveConnection({
      path: "/ws/shared/",
      hello: () => ({ type: "join", token: this.token }),
      onChange: (state) => {
        if (state.document && Date.parse(state.document) > this.stored) {
          this.stored = Date.parse(state.document);
          this.reload();
        }
        this.live = state;
        this.status(state.status.status, state.status.reason);
        paint(this.cy, state);
        this.renderPanel();
      },
      onLink: (up) => {
        $("#live").textContent = up ? "live" : "reconnecting…";
        $("#live").className = up ? "ok" : "bad";
      },
      onOther: (message) => {
        if (message.type === "present") this.present(eventAs<Presented>(message));
        if (message.type === "error") this.message(String(message.message), "error");
      },
      onEnd: () => this.gone("This link has expired or was revoked: the view is closed."),
    });
    this.connection.open();
  }

  /** The owner's lab changed: draw what it is now (nodes keep where they were drawn). */
  async reload(): Promise<void> {
    const shared = await this.api.get().catch(() => null);
    if (!shared) return;
    this.shared = shared;
    const positions = new Map(this.cy.nodes().map((n) => [n.id(), { ...n.position() }]));
    this.cy.elements().remove();
    this.cy.add(elements(shared.document, shared.assigned_ports ?? {}, shared.assigned_addresses ?? {}));
    this.cy.nodes().forEach((n) => {
      const was = positions.get(n.id());
      if (was && !shared.document.nodes?.[n.data("name")]?.position) n.position(was);
    });
    paint(this.cy, this.live);
    this.renderPanel();
  }

  events(): void {
    this.cy.on("tap", (event) => {
      if (event.target === this.cy) this.select(null);
    });
    this.cy.on("tap", "node", (event) => {
      const id = event.target.id() as string;
      if (id.startsWith("n:")) this.select({ type: "node", name: id.slice(2) });
      else if (id.startsWith("net:")) this.select({ type: "network", name: id.slice(4) });
    });
    this.cy.on("tap", "edge", (event) => {
      const id = event.target.id() as string;
      if (id.startsWith("l:")) this.select({ type: "link", index: Number(id.slice(2)) });
    });
    $("#fit").addEventListener("click", () => this.cy.fit(undefined, 30));
    $("#clone").addEventListener("click", () => this.clone());
    document.addEventListener("keydown", (event) => {
      if (event.key === "f" && !(event.target as HTMLElement).closest("input")) this.cy.fit(undefined, 30);
    });
  }

  select(selection: Selection): void {
    this.selection = selection;
    this.renderPanel();
  }

  /** Follow what the owner shows: the same part of the diagram, the same selection. */
  present(view: Presented): void {
    this.presented = view;
    if (!($("#follow") as HTMLInputElement).checked) return;
    const { x1, y1, x2, y2 } = view.extent;
    const width = this.cy.width();
    const height = this.cy.height();
    const zoom = Math.min(width / (x2 - x1), height / (y2 - y1));
    this.cy.viewport({ zoom, pan: { x: width / 2 - (zoom * (x1 + x2)) / 2, y: height / 2 - (zoom * (y1 + y2)) / 2 } });
    this.cy.elements().unselect();
    for (const id of view.selected) this.cy.getElementById(id).select();
    const first = view.selected[0] ?? "";
    this.select(first.startsWith("n:") ? { type: "node", name: first.slice(2) }
      : first.startsWith("net:") ? { type: "network", name: first.slice(4) }
        : first.startsWith("l:") ? { type: "link", index: Number(first.slice(2)) } : null);
  }

  renderPanel(): void {
    const panel = $("#panel");
    if (!this.shared) return;
    if (!this.selection) {
      panel.innerHTML = this.summary(this.shared);
      return;
    }
    panel.innerHTML = renderPanel(this.shared.document, this.selection, this.live, [], new Map(), this.shared.assigned_ports ?? {},
      this.shared.assigned_addresses ?? {});
    // read-only: fields show values, and no control is offered
    panel.querySelectorAll("button, fieldset, section.trace").forEach((e) => e.remove());
    panel.querySelectorAll<HTMLInputElement>("input, textarea, select").forEach((e) => (e.disabled = true));
  }

  summary(shared: Shared): string {
    const { lab, document: doc, expires } = shared;
    const published = (this.live.published.length ? this.live.published : shared.published)
      .map((p) => `<li>${esc(p.host)}:${esc(p.host_port)} → ${esc(p.container)}:${esc(p.port)}</li>`).join("");
    const nodes = Object.keys(doc.nodes ?? {}).length;
    return `<h2>${esc(lab.name)}</h2><p class="muted">${esc(lab.description)}</p>
      <p>Shared by <b>${esc(lab.owner)}</b>, read-only: you can look at the lab and its live state,
      not change it.${expires ? ` The link expires ${esc(new Date(expires).toLocaleString())}.` : ""}</p>
      <p>${nodes} node${nodes === 1 ? "" : "s"}. Select one to see its details.</p>
      ${published ? `<h3>Published ports</h3><ul class="published">${published}</ul>` : ""}
      ${shared.mode !== "view" ? "<p>Copy it into your labs to change and deploy it yourself.</p>" : ""}`;
  }

  async clone(): Promise<void> {
    if (this.root.dataset.signedIn !== "1") {
      location.href = `${this.root.dataset.login}?next=${encodeURIComponent("/s/")}`;
      return;
    }
    try {
      const lab = await this.api.clone();
      this.message(`${lab.name} copied into your labs`);
      location.href = lab.url;
    } catch (error) {
      this.message(`not copied: ${(error as Error).message}`, "error");
    }
  }

  status(status: string, reason: string): void {
    const badge = $("#status");
    badge.textContent = status;
    badge.className = `status ${status}`;
    badge.title = reason;
    $("#workspace").dataset.status = status;
  }

  message(text: string, kind: "error" | "info" = "info"): void {
    $("#message").textContent = text;
    $("#message").className = kind;
  }

  gone(text: string): void {
    this.connection?.close();
    this.cy.elements().remove();
    this.shared = null;
    $("#live").textContent = "";
    $("#clone").hidden = true;
    $("#panel").innerHTML = `<h2>Not available</h2><p>${esc(text)}</p>`;
    this.message(text, "error");
    sessionStorage.removeItem(TOKEN_KEY);
  }
}
