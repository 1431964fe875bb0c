// A console on a node: xterm.js over the node's console WebSocket.
import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";

/** A terminal in `host` and a socket at `path` whose binary frames it shows. */
function terminalOn(host: HTMLElement, path: string, typing: boolean): { term: Terminal; fit: FitAddon; socket: WebSocket } {
  const term = new Terminal({ fontSize: 13, cursorBlink: typing, disableStdin: !typing, theme: { background: "#101820" } });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(host);
  fit.fit();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${path}`);
  socket.binaryType = "arraybuffer";
  return { term, fit, socket };
}

export class NodeConsole {
  private term: Terminal;
  private socket: WebSocket;
  private fit: FitAddon;

  constructor(host: HTMLElement, labId: number, node: string) {
    ({ term: this.term, fit: this.fit, socket: this.socket } =
      terminalOn(host, `/ws/labs/${labId}/nodes/${encodeURIComponent(node)}/console/`, true));
    this.socket.onopen = () => this.resize();
    this.socket.onmessage = (message) => {
      if (typeof message.data === "string") {
        const data = JSON.parse(message.data);
        if (data.type === "error") this.term.write(`\r\n${data.message}\r\n`);
      } else this.term.write(new Uint8Array(message.data));
    };
    this.socket.onclose = () => this.term.write("\r\n[console closed]\r\n");
    this.term.onData((data) => this.socket.readyState === WebSocket.OPEN && this.socket.send(new TextEncoder().encode(data)));
    this.term.focus();
  }

  resize(): void {
    this.fit.fit();
    if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: "resize", cols: this.term.cols, rows: this.term.rows }));
    }
  }

  close(): void {
    this.socket.close();
    this.term.dispose();
  }
}

/** A teacher's read-only view of what a student's consoles on one node print. */
export class ConsoleWatch {
  private term: Terminal;
  private fit: FitAddon;

  constructor(host: HTMLElement, attemptId: number, node: string) {
    const made = terminalOn(host, `/ws/attempts/${attemptId}/nodes/${encodeURIComponent(node)}/watch/`, false);
    ({ term: this.term, fit: this.fit } = made);
    const socket = made.socket;
    socket.onopen = () => this.term.write(`[watching ${node}: what the student's consoles print from now on]\r\n`);
    socket.onmessage = (message) => {
      if (typeof message.data === "string") {
        const data = JSON.parse(message.data);
        if (data.type === "note") this.term.write(`\r\n[${data.message}]\r\n`);
      } else this.term.write(new Uint8Array(message.data));
    };
    socket.onclose = () => this.term.write("\r\n[no longer watching]\r\n");
    window.addEventListener("resize", () => this.fit.fit());
  }
}
