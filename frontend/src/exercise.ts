// The exercise box of a student's lab: instructions, the checks with their live results, and
// the Check and Reset buttons. Results arrive on the lab's socket as each check ends.
import type { Core } from "cytoscape";
import { api, ApiError } from "./api";
import { el } from "./dom";
import { eventAs, type LiveEvent } from "./live";

export interface CheckResult {
  index: number; title: string; passed: boolean; message: string; node: string; weight: number;
  hints?: string[]; // the further hints this check has shown, one per failed try (or time)
}

export interface Attempt {
  id: number; exercise: number; student: string; lab: number; lab_status: string; lab_reason: string;
  results: CheckResult[]; score: number; checking: boolean; checked: string | null; queue: number | null;
  late: boolean; // checked after the exercise closed
  solution?: boolean; // a teacher's lab that runs the exercise's solution
  // the teacher's view only: the student's own values, the faults their lab got, hints shown per check
  variant?: Record<string, string>; faults?: string[]; hints_used?: number[];
  changed_since_passed?: string[]; // what the student changed since every check last passed
}

interface ExerciseInfo {
  id: number; title: string; instructions: string; checks: { title: string; weight: number; kind: string }[];
  rules: { consoles: boolean; check_every: number; locked: string[]; kinds: string[] | null };
}

export class ExerciseBox {
  attempt!: Attempt;
  exercise!: ExerciseInfo;
  private partial = new Map<number, CheckResult>(); // results of the round under way

  constructor(private attemptId: number, private root: HTMLElement, private cy: Core,
              private say: (message: string, kind?: "error" | "info") => void) {}

  async load(): Promise<void> {
    this.attempt = await api<Attempt>("GET", `/api/attempts/${this.attemptId}/`);
    this.exercise = await api<ExerciseInfo>("GET", `/api/exercises/${this.attempt.exercise}/`);
    this.render();
  }

  /** Messages of the lab's socket that concern the exercise. */
  onMessage(message: LiveEvent): boolean {
    if (message.type === "checks" && message.id === this.attemptId) {
      this.attempt = eventAs<Attempt>(message);
      this.partial.clear();
      this.render();
      return true;
    }
    if (message.type === "check.result" && message.attempt === this.attemptId) {
      const { result } = eventAs<{ result: CheckResult }>(message);
      this.partial.set(result.index, result);
      this.render();
      return true;
    }
    return false;
  }

  private results(): Map<number, CheckResult> {
    if (this.attempt.checking) return this.partial;
    return new Map(this.attempt.results.map((r) => [r.index, r]));
  }

  render(): void {
    const box = this.root;
    const results = this.results();
    const total = this.exercise.checks.reduce((sum, c) => sum + c.weight, 0) || 1;
    const passed = this.exercise.checks.reduce((sum, c, i) => sum + (results.get(i)?.passed ? c.weight : 0), 0);
    const percent = Math.round((passed / total) * 100);
    box.replaceChildren();
    box.append(el("h2", this.exercise.title));
    if (this.attempt.solution) {
      box.append(el("p", "This lab runs the exercise's solution: no student sees it. Its checks should all pass; "
        + "a student's failed journey is compared with the way its probes take.", "solution-note"));
    }
    if (this.attempt.queue !== null && this.attempt.queue !== undefined) {
      const ahead = this.attempt.queue;
      box.append(el("p", ahead ? `Your lab waits for the lab host: ${ahead} ahead of it.` : "Your lab is next.", "queue"));
    }
    const details = document.createElement("details");
    details.open = !this.attempt.results.length;
    details.append(el("summary", "Instructions"));
    const body = document.createElement("div");
    body.className = "instructions";
    body.innerHTML = this.exercise.instructions; // rendered on the server with raw HTML escaped
    details.append(body);
    box.append(details);

    const bar = document.createElement("div");
    bar.className = "progress";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuenow", String(percent));
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-label", "checks passed");
    const fill = document.createElement("span");
    fill.style.width = `${percent}%`;
    bar.append(fill);
    box.append(bar, el("p", this.attempt.checking ? `checking… ${results.size} of ${this.exercise.checks.length}`
      : `${percent}% complete` + (this.attempt.checked ? ` · checked ${new Date(this.attempt.checked).toLocaleTimeString()}` : ""),
      "score"));

    if (this.attempt.changed_since_passed?.length) {
      box.append(el("p", `Since your checks last all passed: ${this.attempt.changed_since_passed.join("; ")}`, "since-passed"));
    }
    const list = document.createElement("ul");
    list.className = "checks";
    this.exercise.checks.forEach((check, index) => {
      const result = results.get(index);
      const state = result ? (result.passed ? "pass" : "fail") : "unknown";
      const item = document.createElement("li");
      item.className = `check ${state}`;
      item.dataset.index = String(index);
      item.append(el("span", state === "pass" ? "✓" : state === "fail" ? "✗" : "•", "mark"));
      item.append(el("strong", check.title));
      if (result) item.append(el("div", result.message, "why"));
      if (result && !result.passed && result.hints?.length) {
        const hints = document.createElement("ol");
        hints.className = "hints";
        hints.setAttribute("aria-label", "hints");
        result.hints.forEach((hint, n) => {
          const item = el("li", "");
          item.append(el("strong", result.hints!.length > 1 ? `Hint ${n + 1}` : "Hint"), ` ${hint}`);
          hints.append(item);
        });
        item.append(hints);
      }
      list.append(item);
    });
    box.append(list);

    const buttons = document.createElement("div");
    buttons.className = "buttons";
    const check = el("button", "Check", "primary") as HTMLButtonElement;
    check.id = "exercise-check";
    check.disabled = this.attempt.checking;
    check.onclick = () => this.run("check");
    const reset = el("button", "Reset") as HTMLButtonElement;
    reset.id = "exercise-reset";
    reset.onclick = () => {
      if (confirm("Put the exercise's starting lab back? Your changes are lost.")) void this.run("reset");
    };
    buttons.append(check, reset);
    box.append(buttons);
    this.mark(results);
  }

  private async run(what: "check" | "reset"): Promise<void> {
    try {
      await api("POST", `/api/attempts/${this.attemptId}/${what}/`);
      if (what === "reset") location.reload();
    } catch (error) {
      this.say(error instanceof ApiError ? error.message : String(error), "error");
    }
  }

  /** Nodes a failing check concerns get a red halo, those of passing ones a green one. */
  private mark(results: Map<number, CheckResult>): void {
    this.cy.nodes().removeClass("check-passed check-failed");
    const failing = new Set([...results.values()].filter((r) => !r.passed && r.node).map((r) => r.node));
    for (const result of results.values()) {
      if (!result.node) continue;
      const node = this.cy.getElementById(`n:${result.node}`);
      node.addClass(failing.has(result.node) ? "check-failed" : "check-passed");
    }
  }
}
