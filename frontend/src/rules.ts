// An exercise's rules on a student's edits (its locked nodes, the kinds it lets students add),
// applied in the editor as the server applies them, so a refused edit never reaches the canvas.
import type { LabDocument, NodeDocument } from "./api";

/** Plain data as text with its keys in order, empty values left out, so equal data reads equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== null && v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** A node as the lock compares it: everything but where it is drawn. */
function lockedShape(node: NodeDocument | undefined): string {
  if (!node) return "";
  const { position, ...rest } = node as NodeDocument & { position?: unknown };
  return canonical(rest);
}

export class EditRules {
  constructor(readonly locked: ReadonlySet<string> = new Set(), readonly kinds: readonly string[] | null = null) {}

  static of(rules: { locked?: string[]; kinds?: string[] | null } | undefined): EditRules {
    return new EditRules(new Set(rules?.locked ?? []), rules?.kinds ?? null);
  }

  isLocked(name: string): boolean {
    return this.locked.has(name);
  }

  allowsKind(kind: string): boolean {
    return this.kinds === null || this.kinds.includes(kind);
  }

  /** Why the change from `before` to `after` is not allowed (the server's sentence), or null. */
  refusal(before: LabDocument, after: LabDocument): string | null {
    const was = before.nodes ?? {};
    const now = after.nodes ?? {};
    for (const name of this.locked) {
      if (!(name in was)) continue;
      if (!(name in now)) return `${name} is locked by the exercise: it cannot be removed or renamed`;
      if (lockedShape(was[name]) !== lockedShape(now[name])) return `${name} is locked by the exercise: it cannot be changed`;
    }
    for (const [name, node] of Object.entries(now)) {
      if (!(name in was) && !this.allowsKind(node.kind)) {
        return `this exercise lets you add nodes of kinds ${this.kinds!.join(", ") || "none"}, not ${node.kind}`;
      }
    }
    return null;
  }
}
