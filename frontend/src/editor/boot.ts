// Opening a lab in the editor: its kinds, exercise, document and first drawing, then each part
// wired to the page, and the lab's socket.
import cytoscape from "cytoscape";
import svg from "cytoscape-svg";
import { runLayout, tuneForSize } from "../canvas";
import { loadKinds } from "../kinds";
import { Minimap } from "../minimap";
import { LabModel } from "../model";
import { $ } from "../dom";
import { EditRules } from "../rules";
import { Editing } from "./editing";
import type { Editor } from "./editor";
import { LiveView } from "./livestate";
import { Running } from "./running";

cytoscape.use(svg);

/** The parts around the core, as the page (and its tests) reach them. */
export interface Parts {
  editing: Editing;
  running: Running;
  liveView: LiveView;
}

export function makeParts(editor: Editor): Parts {
  const running = new Running(editor);
  const liveView = new LiveView(editor, {
    onOperation: (op) => running.onOperation(op),
    onLabChanged: () => running.forgetJourney(),
  });
  return { editing: new Editing(editor), running, liveView };
}

export async function openEditor(editor: Editor, { editing, running, liveView }: Parts): Promise<void> {
  await loadKinds();
  await editor.exercise?.load();
  const exercise = editor.exercise;
  editor.rules = EditRules.of(exercise?.attempt.solution ? undefined : exercise?.exercise.rules); // the solution's lab is the teacher's
  const stored = await editor.api.document();
  editor.model = new LabModel(stored.doc);
  editor.version = stored.version;
  editor.absorb(await editor.api.get());
  editor.ends = Object.keys(editor.model.doc.nodes ?? {}).length <= 60; // big labs: on demand
  $("#ends").setAttribute("aria-pressed", String(editor.ends));
  await editor.draw(true);
  tuneForSize(editor.cy);
  editor.cy.resize();
  new Minimap(editor.cy, $("#workspace"));
  editor.fit(); // left of the minimap
  viewControls(editor);
  selectOnTap(editor, editing);
  editor.cy.autoungrabify(editor.watching); // a watcher moves nothing
  liveView.open();
  if (!editor.watching) {
    editing.wire();
    running.wire();
    await editor.check(false);
    await editor.share.load();
  }
  editor.cy.on("viewport select unselect", () => editor.present());
  performance.mark("wirelab:interactive"); // the page answers edits from here (bench/editor_load.py)
}

/** A tap shows what it hit in the panel (or, with Connect under way, ends the connection). */
function selectOnTap(editor: Editor, editing: Editing): void {
  const cy = editor.cy;
  cy.on("tap", (event) => {
    if (event.target !== cy) return;
    editing.connectFrom = null;
    editor.select(null);
  });
  cy.on("tap", "node", (event) => {
    const id = event.target.id() as string;
    if (editing.connectTo(id)) return;
    const adding = (event.originalEvent as MouseEvent | undefined)?.shiftKey ?? false;
    if (id.startsWith("n:")) editor.select({ type: "node", name: id.slice(2) }, adding);
    else if (id.startsWith("net:")) editor.select({ type: "network", name: id.slice(4) });
    else if (id.startsWith("app:")) editor.select({ type: "app", name: id.slice(4) });
  });
  cy.on("tap", "edge", (event) => {
    const id = event.target.id() as string;
    if (id.startsWith("l:")) editor.select({ type: "link", index: Number(id.slice(2)) });
    else if (id.startsWith("if:")) {
      const [, node, iface] = id.split(":");
      editor.select({ type: "attachment", node, iface });
    }
  });
}

/** The toolbar's buttons that change only the view: layout, fit, cable ends, find, pictures, share. */
function viewControls(editor: Editor): void {
  const on = (id: string, fn: () => void) => $(id).addEventListener("click", fn);
  on("#layout", () => runLayout(editor.cy));
  on("#fit", () => editor.fit());
  on("#ends", () => editor.toggleEnds());
  const find = $<HTMLInputElement>("#find");
  find.addEventListener("focus", () => {
    const doc = editor.model.doc;
    const names = [...Object.keys(doc.nodes ?? {}), ...Object.keys(doc.networks ?? {})];
    $("#find-names").innerHTML = names.sort().map((n) => `<option value="${n.replace(/"/g, "&quot;")}"></option>`).join("");
  });
  find.addEventListener("keydown", (event) => {
    if (event.key === "Enter") editor.find(find.value);
    if (event.key === "Escape") find.blur();
  });
  find.addEventListener("change", () => find.value && editor.find(find.value));
  $("#share-open")?.addEventListener("click", () => {
    editor.share.close();
    editor.share.open().catch((error) => editor.message(`cannot list share links: ${error.message}`, "error"));
  });
  document.addEventListener("keydown", (event) => {
    if ((event.target as HTMLElement).closest("input, textarea, select, .xterm") || event.ctrlKey || event.metaKey) return;
    if (event.key === "f") editor.fit();
    else if (event.key === "a") editor.toggleEnds();
    else if (event.key === "/") { event.preventDefault(); find.focus(); }
    else if (event.key === "l") runLayout(editor.cy);
  });
  const name = () => editor.model.doc.name;
  on("#png", () => download(`${name()}.png`, editor.cy.png({ full: true, scale: 2, output: "blob" }) as unknown as Blob));
  on("#svg", () => download(`${name()}.svg`, new Blob([editor.cy.svg({ full: true })], { type: "image/svg+xml" })));
}

function download(name: string, blob: Blob): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}
