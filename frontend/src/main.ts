// The pages' entry: each page's app starts when the page has its root.
import { Dashboard } from "./dashboard";
import { makeParts, openEditor } from "./editor/boot";
import { Editor } from "./editor/editor";
import { ConsoleWatch } from "./terminal";
import { Timeline } from "./timeline";
import { Viewer } from "./viewer";

declare global {
  interface Window {
    wirelab?: unknown; // the page's app, for its tests and benchmarks
    wirelabParts?: unknown;
  }
}

/** Start a page's app, if the page has its root; a failed start is said in #message. */
function boot(id: string, what: string, make: (root: HTMLElement) => { start(): Promise<void> }): void {
  const root = document.getElementById(id);
  if (!root) return;
  const app = make(root);
  window.wirelab = app;
  app.start().catch((error) => {
    const bar = document.getElementById("message");
    if (bar) bar.textContent = `could not load ${what}: ${error.message}`;
  });
}

boot("viewer", "the link", (root) => new Viewer(root));
boot("editor", "the lab", (root) => {
  const editor = new Editor(Number(root.dataset.labId), root.dataset.attemptId ? Number(root.dataset.attemptId) : undefined,
    root.dataset.user ?? "", root.dataset.watching === "1");
  const parts = makeParts(editor);
  window.wirelabParts = parts; // the page's parts, for its tests and benchmarks
  return Object.assign(editor, { start: () => openEditor(editor, parts) });
});
boot("dashboard", "the class", (root) => new Dashboard(Number(root.dataset.courseId), root));
boot("timeline", "the attempt's record", (root) => new Timeline(root, Number(root.dataset.attemptId)));

const watchRoot = document.getElementById("console-watch");
if (watchRoot) new ConsoleWatch(watchRoot, Number(watchRoot.dataset.attemptId), watchRoot.dataset.node ?? "");
