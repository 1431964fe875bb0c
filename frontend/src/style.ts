// A style rule as Cytoscape reads it (its published types know fewer properties than it does).
export type StyleRule = { selector: string; style: Record<string, string | number> };
