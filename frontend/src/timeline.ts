// A student's attempt, moment by moment: the teacher moves along its record (edits, deploys,
// rounds of checks, traces, commands, consoles) and sees the lab as it was at each point.
import type { Core } from "cytoscape";

import { api } from "./api";
import { createCanvas, elements, runLayout, showEnds } from "./canvas";
import { el } from "./dom";
import { loadKinds } from "./kinds";
import type { LabDocument } from "./api";

interface Moment { id: number; time: string; kind: string; summary: string; score: number | null }
interface AttemptRecord { attempt: number; student: string; started: string; events: Moment[] }

const KIND_LABEL: Record<string, string> = {
  edit: "edit", lab: "lab", check: "checks", trace: "trace", command: "command", console: "console",
};

export class Timeline {
  private cy!: Core;
  private moments: Moment[] = [];
  private shown = -1;

  constructor(private root: HTMLElement, private attemptId: number) {}

  async start(): Promise<void> {
    await loadKinds();
    this.cy = createCanvas(this.root.querySelector<HTMLElement>("#canvas")!);
    this.cy.autolock(true); // a record is read, not edited
    const record = await api<AttemptRecord>("GET", `/api/attempts/${this.attemptId}/timeline/`);
    this.moments = record.events;
    const scrub = this.root.querySelector<HTMLInputElement>("#scrub")!;
    scrub.max = String(Math.max(0, this.moments.length - 1));
    scrub.oninput = () => void this.show(Number(scrub.value));
    this.list();
    if (!this.moments.length) {
      this.root.querySelector("#moment")!.textContent = "Nothing recorded yet: the attempt has not been edited, deployed or checked.";
      return;
    }
    scrub.value = scrub.max;
    await this.show(this.moments.length - 1);
  }

  private list(): void {
    const list = this.root.querySelector("#moments")!;
    list.replaceChildren(...this.moments.map((moment, index) => {
      const item = el("li", "", `moment ${moment.kind}`);
      item.dataset.index = String(index);
      item.append(el("time", new Date(moment.time).toLocaleTimeString()), el("span", KIND_LABEL[moment.kind] ?? moment.kind, "kind"),
        el("span", moment.summary, "summary"));
      item.onclick = () => {
        this.root.querySelector<HTMLInputElement>("#scrub")!.value = String(index);
        void this.show(index);
      };
      return item;
    }));
  }

  /** The lab as it was at a moment, and that moment marked in the list. */
  async show(index: number): Promise<void> {
    const moment = this.moments[index];
    if (!moment) return;
    this.shown = index;
    const score = moment.score !== null ? ` · ${Math.round(moment.score * 100)}% of the checks` : "";
    this.root.querySelector("#moment")!.textContent =
      `${index + 1} of ${this.moments.length} · ${new Date(moment.time).toLocaleString()} · ${moment.summary}${score}`;
    this.root.querySelectorAll("#moments li").forEach((li) => li.classList.toggle("current", li.getAttribute("data-index") === String(index)));
    const { document: doc } = await api<{ document: LabDocument }>("GET", `/api/attempts/${this.attemptId}/timeline/?at=${moment.id}`);
    if (this.shown !== index) return; // moved on meanwhile
    this.cy.elements().remove();
    this.cy.add(elements(doc));
    showEnds(this.cy, true);
    const unplaced = this.cy.nodes().filter((n) => !n.isParent() && n.position().x === 0 && n.position().y === 0);
    if (unplaced.length > 1) await runLayout(this.cy, false);
    this.cy.fit(undefined, 30);
  }
}
