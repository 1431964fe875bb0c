// The teacher's dashboard: students × checks of every exercise, kept live by the course's socket.
import { api, ApiError } from "./api";
import { el } from "./dom";
import type { Attempt } from "./exercise";

interface Grid {
  exercises: { id: number; title: string; checks: string[] }[];
  students: { username: string; attempts: Record<string, Attempt | null> }[];
}

/** What the course's socket says: an attempt changed, a student joined, a message was sent. */
type CourseEvent =
  | { type: "attempt"; attempt: Attempt }
  | { type: "joined"; student: string }
  | { type: "message"; from: string; message: string }
  | { type: "hello" };

export class Dashboard {
  private grid: Grid = { exercises: [], students: [] };
  private socket: WebSocket | null = null;
  private delay = 500;
  private preparing: object | null = null; // the preparation being followed (a new one replaces it)

  constructor(private courseId: number, private root: HTMLElement) {}

  async start(): Promise<void> {
    this.forms();
    this.connect();
    await this.reload();
  }

  private async reload(): Promise<void> {
    this.grid = await api<Grid>("GET", `/api/courses/${this.courseId}/results/`);
    this.render();
  }

  private connect(): void {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/courses/${this.courseId}/`);
    this.socket = socket;
    const live = document.getElementById("live");
    socket.onopen = () => {
      this.delay = 500;
      if (live) { live.textContent = "live"; live.className = "ok"; }
      void this.reload(); // what changed while it was away
    };
    socket.onmessage = (event) => this.receive(JSON.parse(event.data) as CourseEvent);
    socket.onclose = (event) => {
      if (live) { live.textContent = "reconnecting…"; live.className = "bad"; }
      if (event.code === 4403) return;
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10_000);
    };
  }

  private receive(message: CourseEvent): void {
    if (message.type === "attempt") {
      const attempt = message.attempt;
      let student = this.grid.students.find((s) => s.username === attempt.student);
      if (!student) {
        student = { username: attempt.student, attempts: {} };
        this.grid.students.push(student);
      }
      student.attempts[String(attempt.exercise)] = attempt;
      this.render();
    } else if (message.type === "joined") {
      if (!this.grid.students.some((s) => s.username === message.student)) {
        this.grid.students.push({ username: message.student, attempts: {} });
        this.render();
      }
      this.say(`${message.student} joined the course`);
    } else if (message.type === "message") {
      this.say(`${message.from} sent to the class: ${message.message}`);
    }
  }

  private say(text: string, kind = "info"): void {
    const bar = document.getElementById("message");
    if (bar) { bar.textContent = text; bar.className = kind; }
  }

  render(): void {
    const table = el("table", "", "results");
    const head = el("thead");
    const top = el("tr");
    const sub = el("tr");
    top.append(el("th", "Student"));
    sub.append(el("th"));
    for (const exercise of this.grid.exercises) {
      const th = el("th", exercise.title) as HTMLTableCellElement;
      th.colSpan = exercise.checks.length + 1;
      top.append(th);
      sub.append(el("th", "Lab"));
      for (const check of exercise.checks) sub.append(el("th", check, "check-name"));
    }
    head.append(top, sub);
    const body = el("tbody");
    for (const student of this.grid.students) {
      const row = el("tr");
      row.dataset.student = student.username;
      row.append(el("th", student.username));
      for (const exercise of this.grid.exercises) {
        const attempt = student.attempts[String(exercise.id)];
        row.append(this.labCell(attempt));
        const results = new Map((attempt?.results ?? []).map((r) => [r.index, r]));
        exercise.checks.forEach((title, index) => {
          const result = results.get(index);
          const state = !attempt ? "none" : attempt.checking ? "checking" : result ? (result.passed ? "pass" : "fail") : "none";
          const cell = el("td", { pass: "✓ pass", fail: "✗ fail", checking: "…", none: "" }[state], `cell ${state}`);
          cell.dataset.exercise = String(exercise.id);
          cell.dataset.check = String(index);
          if (result) cell.title = result.message;
          row.append(cell);
        });
      }
      body.append(row);
    }
    table.append(head, body);
    const wrap = this.root.querySelector("#grid")!;
    wrap.replaceChildren(this.grid.students.length ? table
      : el("p", "No students yet: give them the join code above.", "card"));
  }

  private labCell(attempt: Attempt | null | undefined): HTMLElement {
    const cell = el("td", "", "lab-cell");
    if (!attempt) { cell.append(el("span", "not started", "muted")); return cell; }
    cell.append(el("span", attempt.lab_status, `status ${attempt.lab_status}`));
    if (attempt.queue !== null && attempt.queue !== undefined) cell.append(el("span", ` ${attempt.queue} ahead`, "muted"));
    cell.append(el("span", ` ${Math.round(attempt.score * 100)}%`, "score"));
    if (attempt.late) {
      const late = el("span", " late", "late");
      late.title = "checked after the exercise closed";
      cell.append(late);
    }
    const values = Object.entries(attempt.variant ?? {}).map(([name, value]) => `${name} ${value}`);
    const hints = (attempt.hints_used ?? []).reduce((sum, n) => sum + n, 0);
    const drawn = [
      ...(values.length ? [`values: ${values.join(", ")}`] : []),
      ...(attempt.faults?.length ? [`faults: ${attempt.faults.join("; ")}`] : []),
      ...(hints ? [`hints shown: ${hints}`] : []),
    ];
    for (const line of drawn) cell.append(el("div", line, "drawn muted"));
    const actions = el("div", "", "row-actions");
    const button = (label: string, run: () => Promise<void>) => {
      const b = el("button", label) as HTMLButtonElement;
      b.onclick = () => run().catch((error) => this.say(error instanceof ApiError ? error.message : String(error), "error"));
      actions.append(b);
    };
    button("View", async () => {
      window.open(`/courses/${this.courseId}/attempts/${attempt.id}/lab/`, "_blank", "noopener");
    });
    button("Console", async () => {
      window.open(`/courses/${this.courseId}/attempts/${attempt.id}/console/`, "_blank", "noopener");
    });
    button("Timeline", async () => {
      window.open(`/courses/${this.courseId}/attempts/${attempt.id}/timeline/`, "_blank", "noopener");
    });
    button("Reset", async () => {
      if (confirm(`Reset ${attempt.student}'s lab to the exercise's start?`)) await api("POST", `/api/attempts/${attempt.id}/reset/`);
    });
    button("Stop", async () => {
      if (confirm(`Take ${attempt.student}'s lab down?`)) await api("POST", `/api/attempts/${attempt.id}/stop/`);
    });
    cell.append(actions);
    return cell;
  }

  /** Say how many of the prepared machines are ready, as the lab hosts report them, until all
   *  are (or, after ten minutes, how many were). */
  /** The preparation's own line, under its form (the page's message line moves on). */
  private sayPrepared(text: string, kind: "error" | "info" = "info"): void {
    const line = this.root.querySelector<HTMLElement>("#prepare-state")!;
    line.textContent = text;
    line.className = kind === "error" ? "error" : "";
  }

  private async followPreparation(exercise: string, students: number, note: string): Promise<void> {
    const token = (this.preparing = {});
    for (let waited = 0; waited <= 600 && this.preparing === token; waited += 2) {
      const now = await api<{ ready: number; wanted: number; per_lab_host: Record<string, number> }>(
        "GET", `/api/exercises/${exercise}/prepare/?students=${students}`);
      const hosts = Object.keys(now.per_lab_host).length;
      const on = hosts === 1 ? "on the lab host" : `on ${hosts} lab hosts`;
      if (now.ready >= now.wanted) return this.sayPrepared(`Ready for ${students} student(s): ${now.wanted} machine(s) warm ${on}.${note}`);
      this.sayPrepared(`Preparing: ${now.ready} of ${now.wanted} machine(s) ready ${on}…${note}`);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    if (this.preparing === token) this.sayPrepared("Still preparing after ten minutes: students who start now wait for their machines.", "error");
  }

  private forms(): void {
    const copy = this.root.querySelector<HTMLButtonElement>("#copy-join");
    copy?.addEventListener("click", async () => {
      const url = this.root.querySelector<HTMLAnchorElement>("#join-url")!.href;
      await navigator.clipboard?.writeText(url).then(() => this.say(`copied: ${url}`),
        () => this.say(`copy this link: ${url}`));
    });
    const broadcast = this.root.querySelector<HTMLFormElement>("#broadcast");
    broadcast?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = broadcast.elements.namedItem("message") as HTMLInputElement;
      try {
        await api("POST", `/api/courses/${this.courseId}/broadcast/`, { message: input.value });
        input.value = "";
      } catch (error) { this.say((error as Error).message, "error"); }
    });
    const prepare = this.root.querySelector<HTMLFormElement>("#prepare");
    prepare?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const exercise = (prepare.elements.namedItem("exercise") as HTMLSelectElement).value;
      const students = Number((prepare.elements.namedItem("students") as HTMLInputElement).value);
      try {
        const asked = await api<{ per_lab_host: Record<string, number>; lab_hosts: string[]; note?: string }>(
          "POST", `/api/exercises/${exercise}/prepare/`, { students });
        const count = Object.values(asked.per_lab_host).reduce((a, b) => a + b, 0);
        if (!count) return this.sayPrepared("Nothing to prepare: this exercise's machines all start as they are deployed.");
        const where = asked.lab_hosts.length === 1 ? "the lab host is" : `${asked.lab_hosts.length} lab hosts are each`;
        const note = asked.note ? ` Note: ${asked.note}.` : "";
        this.sayPrepared(`Preparing: ${where} starting ${count} machine(s) for ${students} student(s).${note}`);
        await this.followPreparation(exercise, students, note);
      } catch (error) { this.sayPrepared((error as Error).message, "error"); }
    });
    const roster = this.root.querySelector<HTMLFormElement>("#roster");
    roster?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const csv = (roster.elements.namedItem("csv") as HTMLTextAreaElement).value;
      const out = this.root.querySelector("#roster-result")!;
      try {
        const made = await api<{ students: { username: string; password: string | null }[] }>(
          "POST", `/api/courses/${this.courseId}/roster/`, { csv });
        out.textContent = "username,password (shown once)\n" +
          made.students.map((s) => `${s.username},${s.password ?? "(existing account)"}`).join("\n");
        await this.reload();
      } catch (error) {
        out.textContent = error instanceof ApiError ? JSON.stringify(error.body) : String(error);
      }
    });
  }
}
