// The fields the side panel edits, each described once: how its value is shown as text and
// how text becomes its value again (the panel draws from `text`, an edit stores `value`).
import type { NodeDocument } from "./api";
import { commandFrom, commandText } from "./shellwords";

export interface FieldDescriptor<T> {
  text(owner: T): string;
  /** The value to store for `text` (null: the field is left out); throws with a sentence. */
  value(text: string, owner: T): unknown;
}

type Node = NodeDocument & Record<string, unknown>;
type Port = string | number | { host?: number | string; container?: number | null; protocol?: string };

const orNull = (text: string) => text || null;

const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter(Boolean);

/** `10000:80, auto:443, 8080` as the document's ports list (a bare number is that port). */
export function parsePorts(text: string): (string | number)[] {
  return text.split(",").map((p) => p.trim()).filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

export function portsText(node: NodeDocument): string {
  return ((node.ports ?? []) as Port[])
    .map((p) => (typeof p !== "object" ? String(p) : p.container == null ? String(p.host)
      : `${p.host}:${p.container}${p.protocol === "udp" ? "/udp" : ""}`))
    .join(", ");
}

function own(key: string): FieldDescriptor<Node> {
  return { text: (node) => String(node[key] ?? ""), value: orNull };
}

export const NODE_FIELDS = {
  image: own("image"),
  host: own("host"),
  mode: { text: (node: Node) => node.mode ?? "bridge", value: orNull },
  command: {
    text: (node: Node) => commandText(node.command as string | string[] | null),
    value: (text: string, node: Node) => commandFrom(text, node.command as string | string[] | null),
  },
  ports: { text: portsText, value: parsePorts },
  env: {
    text: (node: Node) => Object.entries(node.env ?? {}).map(([k, v]) => `${k}=${v}`).join("\n"),
    value: (text: string) => Object.fromEntries(text.split("\n").filter((l) => l.includes("="))
      .map((l) => [l.split("=")[0].trim(), l.slice(l.indexOf("=") + 1)])),
  },
  exec: { text: (node: Node) => (node.exec ?? []).join("\n"), value: lines },
  gateway: { text: (node: Node) => node.gateway ?? "auto", value: (text: string) => (text === "none" ? "none" : null) },
  routes: {
    text: (node: Node) => (node.routes ?? []).map((r) => `${r.to} via ${r.via}`).join("\n"),
    value: (text: string) => lines(text).map((l) => l.split(/\s+via\s+/)).filter((p) => p.length === 2)
      .map(([to, via]) => ({ to, via })),
  },
} satisfies Record<string, FieldDescriptor<Node>>;

export type NodeField = keyof typeof NODE_FIELDS;

/** What an edited input names: its `data-field` (and `data-iface` for an interface's address). */
export type FieldEdit =
  | { key: "name" }
  | { key: NodeField }
  | { key: "address"; iface: string }
  | { key: "subnet" };

export function fieldOf(input: HTMLElement): FieldEdit | null {
  const key = input.dataset.field;
  if (key === "address" && input.dataset.iface) return { key, iface: input.dataset.iface };
  if (key === "name" || key === "subnet" || (key && key in NODE_FIELDS)) return { key } as FieldEdit;
  return null;
}

/** The change an edit of a node's field makes, worked out before the document is touched
 *  (throws with a sentence when the text cannot be a value). A name is a rename, not a field. */
export function nodeChange(node: NodeDocument, field: FieldEdit, text: string): (node: Node) => void {
  if (field.key === "address") {
    const address = text.trim() || null;
    return (target) => { target.interfaces![field.iface].address = address; };
  }
  if (!(field.key in NODE_FIELDS)) return () => undefined;
  const key = field.key as NodeField;
  const value = NODE_FIELDS[key].value(text, node as Node);
  return (target) => { (target as Record<string, unknown>)[key] = value; };
}
