// The `docker run` line that makes a container node, typed on its host's console (the lab's
// Docker API turns it back into the same node). The lab's "docker commands" export writes the
// same lines (topology/dockerrun.py).
import type { NodeDocument } from "./api";
import { portsText } from "./fields";
import { quoteWords } from "./shellwords";

export function dockerRunLine(name: string, node: NodeDocument): string {
  const mode = node.mode ?? "bridge";
  const [base, network] = mode.includes(":") ? mode.split(":", 2) : [mode, ""];
  const words = ["docker", "run", "-d", "--name", name];
  if (base === "host" || base === "none") words.push(`--network=${base}`);
  else if (base === "overlay" && network) words.push(`--network=${network}`);
  const ports = portsText(node).split(", ").filter(Boolean);
  if (base === "bridge" || base === "cni") {
    for (const port of ports) words.push("-p", port.replace(/^auto:/, ""));
  } else if (base === "host") {
    const hostPort = (p: string) => (p.includes(":") ? p.split(":")[1] : p);
    const fixed = ports.map(hostPort).filter((p) => p !== "auto");
    for (const port of fixed) words.push("--expose", port);
    if (fixed.length < ports.length) words.push("-P");
  }
  for (const [key, value] of Object.entries(node.env ?? {})) words.push("-e", `${key}=${value}`);
  words.push(node.image ?? "");
  const command = node.command as string | string[] | null | undefined;
  if (typeof command === "string") words.push("sh", "-c", command);
  else if (command) words.push(...command);
  return quoteWords(words);
}
