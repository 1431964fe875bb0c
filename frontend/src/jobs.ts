// Jobs a running lab's page asks of its lab host: controls (said as they are asked), jobs with a
// result (NAT table, trace), and captures. Their ends are heard on the lab's socket; the rows are
// read when the socket is away, and once more when a job is long silent.
import type { labApi } from "./api";
import { esc } from "./dom";
import type { MessageLine } from "./messageline";

/** A job's end as the lab's socket says it (an operation's or a capture's). */
export interface JobEnd {
  type: "operation" | "capture";
  id: number;
  status: string;
  error?: string;
  size?: number;
}

const ENDED = new Set(["succeeded", "failed", "done"]);
const key = (type: string, id: number) => `${type}:${id}`;

export class LabJobs {
  private heardEnds = new Map<string, JobEnd>(); // ends heard before anyone waited for them
  private waiting = new Map<string, (end: JobEnd | null) => void>();

  constructor(private api: ReturnType<typeof labApi>, private line: MessageLine, private links: HTMLElement,
              private socketUp: () => boolean) {}

  /** A job event from the lab's socket. */
  heard(event: JobEnd): void {
    if (!ENDED.has(event.status)) return;
    const k = key(event.type, event.id);
    const waiter = this.waiting.get(k);
    if (waiter) return waiter(event);
    this.heardEnds.set(k, event);
    if (this.heardEnds.size > 100) this.heardEnds.delete(this.heardEnds.keys().next().value!);
  }

  /** The job's end: heard on the socket, or read from its row while the socket is away (and
   *  once at `ceiling` seconds); null if it has not ended by then. */
  private ended(type: JobEnd["type"], id: number, read: () => Promise<JobEnd>, ceiling: number): Promise<JobEnd | null> {
    const k = key(type, id);
    const heard = this.heardEnds.get(k);
    if (heard) return Promise.resolve(heard);
    return new Promise((resolve) => {
      let timer = 0;
      const finish = (end: JobEnd | null) => {
        window.clearInterval(timer);
        this.waiting.delete(k);
        resolve(end);
      };
      const look = async (last = false) => {
        const end = await read().catch(() => null);
        if (end && ENDED.has(end.status)) finish(end);
        else if (last) finish(null);
      };
      this.waiting.set(k, finish);
      look(); // it may have ended before this page listened
      const started = Date.now();
      timer = window.setInterval(() => {
        if (Date.now() - started > ceiling * 1000) look(true);
        else if (!this.socketUp()) look();
      }, 1000);
    });
  }

  private operationEnd(id: number, ceiling: number): Promise<JobEnd | null> {
    return this.ended("operation", id, async () => {
      const op = (await this.api.operations()).find((o) => o.id === id);
      return { type: "operation", id, status: op?.status ?? "queued", error: op?.error };
    }, ceiling);
  }

  /** Ask for a control (a cable, an impairment, a restart); say it, or why it was refused. */
  async control(call: () => Promise<unknown>, doing: string): Promise<void> {
    try {
      await call();
      this.line.say(doing);
    } catch (error) {
      this.line.say((error as Error).message, "error");
    }
  }

  /** A job's result once the lab host has done it (null, with the error said, if it failed);
   *  `T` is what the job's kind returns. */
  async result<T>(start: () => Promise<{ operation: number }>, what: string, doing: string): Promise<T | null> {
    try {
      const { operation } = await start();
      this.line.say(doing);
      const end = await this.operationEnd(operation, 60);
      if (!end) return this.line.say(`${what}: no answer from the lab host yet`, "error"), null;
      if (end.status === "failed") return this.line.say(`${what}: ${end.error}`, "error"), null;
      const op = (await this.api.operations()).find((o) => o.id === operation);
      return (op?.result as T | undefined) ?? null;
    } catch (error) {
      this.line.say((error as Error).message, "error");
    }
    return null;
  }

  /** Capture on a cable end; once the lab host has the file, the message line links to it (and
   *  the drawer's bar keeps the link). Resolves with the capture when it is done. */
  async capture(node: string, iface: string, seconds = 10): Promise<{ id: number; size: number } | null> {
    const end = `${node}:${iface}`;
    try {
      const { id } = await this.api.capture(node, iface, seconds);
      this.line.say(`capturing on ${end} for ${seconds} s…`);
      const read = async (): Promise<JobEnd> => {
        const capture = await this.api.captureGet(id);
        return { type: "capture", id, status: capture.status, error: capture.error, size: capture.size };
      };
      const done = await this.ended("capture", id, read, seconds + 90);
      if (!done) return this.line.say(`capture on ${end}: no answer from the lab host yet`, "error"), null;
      if (done.status === "failed") return this.line.say(`capture on ${end} failed: ${done.error}`, "error"), null;
      const size = done.size ?? 0;
      const link = `<a class="pcap" href="/api/captures/${id}/pcap/" download>download ${esc(end)}.pcap</a>`;
      this.links.insertAdjacentHTML("beforeend", `${link} `);
      this.line.sayHtml(size <= 24 // a pcap file's header alone
        ? `capture on ${esc(end)} ready, but empty: nothing crossed it in ${seconds} s (send traffic while it captures) · ${link}`
        : `capture on ${esc(end)} ready (${Math.max(1, Math.round(size / 1024))} KiB): ${link}, open it in Wireshark`);
      return { id, size };
    } catch (error) {
      this.line.say((error as Error).message, "error");
    }
    return null;
  }
}
