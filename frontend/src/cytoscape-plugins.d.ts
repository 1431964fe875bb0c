// What the plugins (and one internal) add to a Cytoscape core, as this app calls them.
import "cytoscape";

declare module "cytoscape" {
  interface Core {
    edgehandles(options: Record<string, unknown>): unknown; // cytoscape-edgehandles
    svg(options: { full?: boolean; scale?: number }): string; // cytoscape-svg
    renderer(): Record<string, unknown>; // the renderer's options, tuned for big labs
  }
}
