// The lab page's message line: one sentence, true now, replaced by the next one (what a job
// says, a refusal, or the lab's status when it changes).
import { esc } from "./dom";
import type { LiveState } from "./live";

export type Kind = "error" | "info";

export class MessageLine {
  constructor(private bar: HTMLElement, private me = "") {}

  say(text: string, kind: Kind = "info"): void {
    this.sayHtml(esc(text), kind);
  }

  /** With markup (a link): `html` must be escaped by the caller. */
  sayHtml(html: string, kind: Kind = "info"): void {
    this.bar.innerHTML = html;
    this.bar.className = kind;
  }

  /** The lab's status, naming who changed it when it was someone else. */
  sayStatus(status: LiveState["status"]): void {
    const other = status.by && status.by !== this.me ? status.by : "";
    const sentences: Record<string, string> = {
      deploying: other ? `${other} is starting this lab` : "starting the lab…",
      destroying: other ? `${other} is stopping this lab` : "stopping the lab…",
      stopped: other ? `this lab was stopped by ${other}` : "the lab is stopped",
      running: "the lab is running",
      degraded: `the lab runs, degraded: ${status.reason}`,
      failed: `the lab failed: ${status.reason}`,
    };
    const sentence = sentences[status.status];
    if (sentence) this.say(sentence, status.status === "failed" || status.status === "degraded" || other ? "error" : "info");
  }
}
