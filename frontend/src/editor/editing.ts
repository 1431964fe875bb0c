// Editing the lab: the palette, connecting, the panel's fields, renames, copy and paste,
// delete, undo and redo, and importing a document. Every edit goes through the editor's
// `changed`, which applies the exercise's rules and saves.
import type { EdgeSingular, EventObject, NodeCollection, NodeSingular } from "cytoscape";
import { csrfToken, type NodeDocument, type Problem } from "../api";
import { appOf } from "../canvas";
import { fieldOf, nodeChange } from "../fields";
import { kindOf } from "../kinds";
import { LabModel } from "../model";
import { $ } from "../dom";
import type { Editor } from "./editor";
import { type PaletteItem, addItem, connect, palette } from "./edits";

export class Editing {
  connectFrom: string | null = null; // the first node of a connection under way
  private items: PaletteItem[] = [];
  private clipboard: string | null = null;

  constructor(private editor: Editor) {}

  get model(): LabModel {
    return this.editor.model;
  }

  /** Wire the palette, the canvas's edits, the panel's fields, the toolbar's edit buttons and keys. */
  wire(): void {
    this.palette();
    this.canvas();
    this.panel();
    const on = (id: string, fn: () => void) => $(id).addEventListener("click", fn);
    on("#undo", () => this.undo());
    on("#redo", () => this.redo());
    on("#connect", () => this.connectButton());
    $<HTMLInputElement>("#import").addEventListener("change", (event) => this.importFile(event));
    document.addEventListener("keydown", (event) => this.key(event));
  }

  // The palette -------------------------------------------------------------------------

  private palette(): void {
    const box = $("#palette");
    this.items = palette().filter((item) => item.network || item.kind === "app" || this.editor.rules.allowsKind(item.kind));
    box.innerHTML = this.items.map((item, i) => `<div class="item ${item.kind}" draggable="true" data-index="${i}" tabindex="0" role="button"
      title="Drag onto the canvas, or press Enter to add">${item.label}</div>`).join("");
    box.addEventListener("keydown", (event) => {
      const index = (event.target as HTMLElement).dataset.index;
      if (index === undefined || (event.key !== "Enter" && event.key !== " ")) return;
      event.preventDefault();
      this.drop(Number(index), null);
    });
    box.addEventListener("dragstart", (event) => {
      event.dataTransfer!.setData("text/wirelab-palette", (event.target as HTMLElement).dataset.index ?? "");
    });
    box.addEventListener("dblclick", (event) => {
      const index = (event.target as HTMLElement).dataset.index;
      if (index !== undefined) this.drop(Number(index), null);
    });
    const canvas = $("#canvas");
    canvas.addEventListener("dragover", (event) => event.preventDefault());
    canvas.addEventListener("drop", (event) => {
      event.preventDefault();
      const index = event.dataTransfer!.getData("text/wirelab-palette");
      if (index === "") return;
      const rect = canvas.getBoundingClientRect();
      this.drop(Number(index), { x: event.clientX - rect.left, y: event.clientY - rect.top });
    });
  }

  /** A free spot near the middle of the view, for items added without a drop point. */
  private freeSpot(): { x: number; y: number } {
    const cy = this.editor.cy;
    const extent = cy.extent();
    const center = { x: (extent.x1 + extent.x2) / 2, y: (extent.y1 + extent.y2) / 2 };
    const taken = (x: number, y: number) =>
      cy.nodes().some((n) => {
        const b = n.boundingBox({});
        return x > b.x1 - 50 && x < b.x2 + 50 && y > b.y1 - 40 && y < b.y2 + 40;
      });
    for (let ring = 0; ring < 12; ring++) {
      for (let step = 0; step < Math.max(1, ring * 8); step++) {
        const angle = (2 * Math.PI * step) / Math.max(1, ring * 8);
        const x = center.x + ring * 150 * Math.cos(angle);
        const y = center.y + ring * 110 * Math.sin(angle);
        if (!taken(x, y)) return { x: Math.round(x), y: Math.round(y) };
      }
    }
    return center;
  }

  /** Add a palette item where it was dropped (rendered coordinates, or null for a free spot);
   *  a container lands in the host under it. */
  drop(index: number, rendered: { x: number; y: number } | null): void {
    const cy = this.editor.cy;
    const item = this.items[index];
    const kind = kindOf({ kind: item.kind });
    const zoom = cy.zoom();
    const pan = cy.pan();
    let position = rendered
      ? { x: Math.round((rendered.x - pan.x) / zoom), y: Math.round((rendered.y - pan.y) / zoom) }
      : this.freeSpot();
    let host: string | undefined;
    if (kind.placed_on_host) {
      const under = cy.nodes(".holder").filter((n) => {
        const box = n.boundingBox({});
        return position.x >= box.x1 && position.x <= box.x2 && position.y >= box.y1 && position.y <= box.y2;
      });
      const hosts = Object.entries(this.model.doc.nodes ?? {}).filter(([, n]) => kindOf(n).holds_containers).map(([n]) => n);
      host = under.length ? under[0].data("name") : hosts.length === 1 ? hosts[0] : undefined;
      if (!host) return this.editor.message("drop a container onto a host", "error");
      if (!rendered || !under.length) {
        const nodes = this.model.doc.nodes ?? {};
        const siblings = Object.values(nodes).filter((n) => kindOf(n).placed_on_host && n.host === host);
        const anchor = siblings[0]?.position ?? nodes[host].position ?? cy.getElementById(`n:${host}`).position();
        const i = siblings.length;
        position = { x: Math.round(anchor.x + (i % 2) * 90), y: Math.round(anchor.y + Math.floor(i / 2) * 55) };
      }
    }
    const name = addItem(this.model, item, position, host);
    this.editor.select(item.network ? { type: "network", name } : { type: "node", name });
    this.editor.changed();
  }

  // The canvas --------------------------------------------------------------------------

  private canvas(): void {
    const cy = this.editor.cy;
    cy.edgehandles({
      canConnect: (source: NodeSingular, target: NodeSingular) => !source.same(target) && !source.id().startsWith("br:") && !target.id().startsWith("br:"),
      edgeParams: () => ({ data: {} }),
      hoverDelay: 150,
      snap: true,
    });
    cy.on("ehcomplete", (_event: EventObject, source: NodeSingular, target: NodeSingular, added: EdgeSingular) => {
      added.remove();
      this.link(source.id(), target.id());
    });
    cy.on("dragfree", "node", (event) => this.moved(event.target.union(event.target.descendants())));
  }

  /** Nodes were dragged: their positions are saved (a move is never refused, locks included). */
  private moved(nodes: NodeCollection): void {
    this.model.edit((doc) => {
      nodes.forEach((n: NodeSingular) => {
        const id = n.id();
        const { x, y } = n.position();
        const position = { x: Math.round(x), y: Math.round(y) };
        if (id.startsWith("n:") && !n.isParent() && doc.nodes?.[id.slice(2)]) doc.nodes[id.slice(2)].position = position;
        if (id.startsWith("net:")) doc.networks![id.slice(4)].position = position;
        if (id.startsWith("app:") && doc.apps?.[id.slice(4)]) doc.apps[id.slice(4)].position = position;
      });
    });
    this.editor.scheduleSave();
  }

  /** A tap on a node while a connection is under way ends it there (true: the tap is taken). */
  connectTo(id: string): boolean {
    if (!this.connectFrom) return false;
    const from = this.connectFrom;
    this.connectFrom = null;
    $("#connect").classList.remove("active");
    this.link(from, id);
    return true;
  }

  link(source: string, target: string): void {
    const problem = connect(this.model, source, target);
    if (problem) return this.editor.message(problem, "error");
    this.editor.message(""); // "connect pc1 to…" is done
    this.editor.changed();
  }

  private connectButton(): void {
    const selected = this.editor.cy.$("node:selected");
    if (selected.length === 2) return this.link(selected[0].id(), selected[1].id()); // two chosen: join them
    if (!selected.length) return this.editor.message("select the first node (or two, with Shift), then press Connect and tap the second", "error");
    this.connectFrom = selected[0].id();
    $("#connect").classList.add("active");
    this.editor.message(`connect ${selected[0].data("name")} to…`);
  }

  // The panel's fields ------------------------------------------------------------------

  private panel(): void {
    $("#panel").addEventListener("change", (event) => {
      const input = event.target as HTMLInputElement;
      const field = fieldOf(input);
      if (field) this.editField(field, input.value);
      else if (input.dataset.appField) this.editApp(input.dataset.appField, input.value);
    });
  }

  /** A field of the selected app (or of the app of a selected instance), as the panel writes it. */
  private editApp(key: string, text: string): void {
    const selection = this.editor.selection;
    const selected = selection?.type === "app" || selection?.type === "node" ? selection.name : "";
    const app = this.model.doc.apps?.[selected] ? selected : appOf(this.model.doc, selected);
    if (!app) return;
    let value: unknown = text.trim();
    if (key === "ports") value = text.split(",").map((p) => p.trim()).filter(Boolean)
      .map((p) => (p.startsWith("{") ? JSON.parse(p) : /^\d+$/.test(p) ? Number(p) : p));
    if (key === "command" && text.trim().startsWith("[")) {
      try { value = JSON.parse(text); } catch { return this.editor.message("command: not a JSON list: not saved", "error"); }
    }
    this.model.edit((doc) => { (doc.apps![app] as Record<string, unknown>)[key] = value || undefined; });
    this.editor.changed();
  }

  private editField(field: NonNullable<ReturnType<typeof fieldOf>>, text: string): void {
    const selection = this.editor.selection;
    if (!selection || selection.type === "attachment" || selection.type === "app") return;
    if (selection.type === "link") {
      this.model.edit((doc) => { doc.links![selection.index].subnet = text || null; });
      return this.editor.changed();
    }
    if (field.key === "name") return this.rename(selection.type, selection.name, text.trim());
    if (selection.type === "network") {
      const key = field.key as "subnet";
      this.model.edit((doc) => { doc.networks![selection.name][key] = text || null; });
      return this.editor.changed();
    }
    let change;
    try {
      change = nodeChange(this.model.doc.nodes![selection.name], field, text);
    } catch (error) {
      return this.editor.message(`${field.key} of ${selection.name}: ${(error as Error).message}: not saved`, "error");
    }
    this.model.edit((doc) => change(doc.nodes![selection.name]));
    this.editor.changed();
  }

  private rename(kind: "node" | "network", from: string, to: string): void {
    const id = kind === "node" ? `n:${from}` : `net:${from}`;
    const taken = to !== from && (to in (this.model.doc.nodes ?? {}) || to in (this.model.doc.networks ?? {}));
    if (!to || taken) {
      this.editor.conflicts.set(id, to);
      const other = to in (this.model.doc.nodes ?? {}) ? `n:${to}` : `net:${to}`;
      this.editor.cy.getElementById(other).addClass("problem");
      this.editor.message(to ? `'${to}' is already the name of another element` : "a name is needed", "error");
      return this.editor.changed();
    }
    this.editor.conflicts.delete(id);
    this.model.edit(() => this.model.rename(kind, from, to));
    this.editor.selection = kind === "node" ? { type: "node", name: to } : { type: "network", name: to };
    this.editor.changed();
  }

  // Keys that edit, copy and paste, delete, undo -----------------------------------------

  private key(event: KeyboardEvent): void {
    if ((event.target as HTMLElement).closest("input, textarea, select, .xterm")) return;
    const ctrl = event.ctrlKey || event.metaKey;
    const selection = this.editor.selection;
    if (ctrl && event.key === "z" && !event.shiftKey) { event.preventDefault(); this.undo(); }
    else if (ctrl && (event.key === "y" || (event.key === "z" && event.shiftKey))) { event.preventDefault(); this.redo(); }
    else if (ctrl && event.key === "c" && selection?.type === "node") this.clipboard = selection.name;
    else if (ctrl && event.key === "v" && this.clipboard && this.model.doc.nodes?.[this.clipboard]) this.paste(this.clipboard);
    else if (event.key === "Delete" || event.key === "Backspace") this.deleteSelection();
  }

  private paste(source: string): void {
    const copy = JSON.parse(JSON.stringify(this.model.doc.nodes![source])) as NodeDocument;
    const name = this.model.freeName(source.replace(/\d+$/, "") || "node");
    // cables stay with the original; a copy keeps its networks, with addresses of its own
    copy.interfaces = Object.fromEntries(Object.entries(copy.interfaces ?? {}).filter(([, i]) => i.network)
      .map(([ifName, i]) => [ifName, { ...i, address: null }]));
    if (copy.position) copy.position = { x: copy.position.x + 40, y: copy.position.y + 40 };
    this.model.edit((doc) => { doc.nodes![name] = copy; });
    this.editor.select({ type: "node", name });
    this.editor.changed();
  }

  private deleteSelection(): void {
    const selection = this.editor.selection;
    if (!selection) return;
    this.model.edit((doc) => {
      if (selection.type === "node" && doc.nodes?.[selection.name]) this.model.removeNode(selection.name);
      if (selection.type === "app") delete doc.apps![selection.name];
      if (selection.type === "network") this.model.removeNetwork(selection.name);
      if (selection.type === "link") doc.links!.splice(selection.index, 1);
      if (selection.type === "attachment") delete doc.nodes![selection.node].interfaces![selection.iface];
    });
    this.editor.selection = null;
    this.editor.changed();
  }

  undo(): void {
    if (this.model.undo()) this.editor.drawAndSave();
  }

  redo(): void {
    if (this.model.redo()) this.editor.drawAndSave();
  }

  /** A YAML file chosen with Import replaces the document, as the server reads it. */
  private async importFile(event: Event): Promise<void> {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (!file) return;
    const response = await fetch(`/api/labs/${this.editor.labId}/document/`, {
      method: "PUT", credentials: "same-origin",
      headers: { "Content-Type": "application/yaml", "X-CSRFToken": csrfToken() },
      body: await file.text(),
    });
    const body = await response.json();
    if (!response.ok) {
      const problems = (body.problems ?? []).map((p: Problem) => `${p.path}: ${p.message}`).join("; ");
      return this.editor.message(`not imported: ${problems}`, "error");
    }
    const stored = await this.editor.api.document();
    this.editor.model = new LabModel(stored.doc);
    this.editor.version = stored.version;
    this.editor.absorb(await this.editor.api.get());
    await this.editor.draw(true);
    await this.editor.check(false);
  }
}
