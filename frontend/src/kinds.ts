// Node kinds as the server's registry describes them (/api/kinds/): the palette, the panel's
// fields and every rule that depends on a kind ask a kind's traits, never its name.
import type { components } from "./api-types";
import { api } from "./api";

export type KindInfo = components["schemas"]["Kind"];

const UNKNOWN: KindInfo = {
  name: "", label: "", description: "", allowed_fields: [], has_interfaces: false, sandboxed: false,
  bridges_ports: false, holds_containers: false, placed_on_host: false, forwards: false, has_container: false,
  default_image: null, palette: [],
};

let registry: Record<string, KindInfo> = {};

export async function loadKinds(): Promise<void> {
  const kinds = await api<KindInfo[]>("GET", "/api/kinds/");
  registry = Object.fromEntries(kinds.map((k) => [k.name, k]));
}

/** The kind of a node (by its `kind` field); an unknown kind has no traits. */
export const kindOf = (node: { kind?: string } | undefined): KindInfo => registry[node?.kind ?? ""] ?? UNKNOWN;

export const allows = (node: { kind?: string }, field: string): boolean => kindOf(node).allowed_fields.includes(field);

export const allKinds = (): KindInfo[] => Object.values(registry);
