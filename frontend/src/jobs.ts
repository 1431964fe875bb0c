// Jobs a running lab's page asks of its lab host: controls (said as they are asked), jobs with a
// result (NAT table, trace), and captures, followed until the lab host has them.
import type { labApi } from "./api";
import { esc } from "./dom";
import type { MessageLine } from "./messageline";

const pause = (ms: number) => new Promise((resolve) => window.setTimeout(resolve, ms));

export class LabJobs {
  constructor(private api: ReturnType<typeof labApi>, private line: MessageLine, private links: HTMLElement) {}

  /** Ask for a control (a cable, an impairment, a restart); say it, or why it was refused. */
  async control(call: () => Promise<unknown>, doing: string): Promise<void> {
    try {
      await call();
      this.line.say(doing);
    } catch (error) {
      this.line.say((error as Error).message, "error");
    }
  }

  /** A job's result once the lab host has done it (null, with the error said, if it failed). */
  async result(start: () => Promise<{ operation: number }>, what: string, doing: string): Promise<any> {
    try {
      const { operation } = await start();
      this.line.say(doing);
      for (let i = 0; i < 60; i++) {
        await pause(500);
        const op: any = (await this.api.operations()).find((o) => o.id === operation);
        if (op?.status === "failed") return this.line.say(`${what}: ${op.error}`, "error"), null;
        if (op?.status === "succeeded") return op.result;
      }
      this.line.say(`${what}: no answer from the lab host yet`, "error");
    } catch (error) {
      this.line.say((error as Error).message, "error");
    }
    return null;
  }

  /** Capture on a cable end; once the lab host has the file, the message line links to it (and
   *  the drawer's bar keeps the link). */
  async capture(node: string, iface: string, seconds = 10): Promise<void> {
    const end = `${node}:${iface}`;
    try {
      const { id } = await this.api.capture(node, iface, seconds);
      this.line.say(`capturing on ${end} for ${seconds} s…`);
      for (let waited = 0; waited < seconds + 90; waited++) {
        await pause(1000);
        const capture = await this.api.captureGet(id);
        if (capture.status === "failed") return this.line.say(`capture on ${end} failed: ${capture.error}`, "error");
        if (capture.status !== "done") continue;
        const empty = capture.size <= 24; // a pcap file's header alone
        const link = `<a class="pcap" href="/api/captures/${id}/pcap/" download>download ${esc(end)}.pcap</a>`;
        this.links.insertAdjacentHTML("beforeend", `${link} `);
        return this.line.sayHtml(empty
          ? `capture on ${esc(end)} ready, but empty: nothing crossed it in ${seconds} s (send traffic while it captures) · ${link}`
          : `capture on ${esc(end)} ready (${Math.max(1, Math.round(capture.size / 1024))} KiB): ${link}, open it in Wireshark`);
      }
      this.line.say(`capture on ${end}: no answer from the lab host yet`, "error");
    } catch (error) {
      this.line.say((error as Error).message, "error");
    }
  }
}
