// A bird's-eye view of the lab: every node as a dot, the visible part as a frame; click or
// drag in it to move the view there. Drawn from node positions (a few hundred rectangles)
// rather than from a picture of the graph, so a 500-node lab pans without re-rendering it.
import type { Core } from "cytoscape";

const WIDTH = 180;
const HEIGHT = 120;
const PAD = 6;

export class Minimap {
  readonly canvas: HTMLCanvasElement;
  private frame = 0;
  private dirty = true; // node positions changed since the dots were drawn
  private dots: HTMLCanvasElement = document.createElement("canvas");
  private box = { x1: 0, y1: 0, w: 1, h: 1, scale: 1 };

  constructor(private cy: Core, host: HTMLElement) {
    this.canvas = document.createElement("canvas");
    this.canvas.id = "minimap";
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "Overview of the whole lab; click to move the view");
    const ratio = window.devicePixelRatio || 1;
    for (const c of [this.canvas, this.dots]) {
      c.width = WIDTH * ratio;
      c.height = HEIGHT * ratio;
      c.getContext("2d")!.scale(ratio, ratio);
    }
    host.appendChild(this.canvas);
    cy.on("add remove position", () => { this.dirty = true; this.schedule(); });
    cy.on("viewport resize", () => this.schedule());
    let dragging = false;
    const move = (event: PointerEvent) => this.centerAt(event.offsetX, event.offsetY);
    this.canvas.addEventListener("pointerdown", (event) => { dragging = true; this.canvas.setPointerCapture(event.pointerId); move(event); });
    this.canvas.addEventListener("pointermove", (event) => dragging && move(event));
    this.canvas.addEventListener("pointerup", () => (dragging = false));
    this.schedule();
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  /** Move the view so that the graph point under the minimap's (x, y) is in the middle. */
  centerAt(x: number, y: number): void {
    const { x1, y1, scale } = this.box;
    const zoom = this.cy.zoom();
    const point = { x: x1 + (x - PAD) / scale, y: y1 + (y - PAD) / scale };
    this.cy.pan({ x: this.cy.width() / 2 - point.x * zoom, y: this.cy.height() / 2 - point.y * zoom });
  }

  private draw(): void {
    if (this.dirty) this.drawDots();
    const ctx = this.canvas.getContext("2d")!;
    ctx.clearRect(0, 0, WIDTH, HEIGHT);
    ctx.drawImage(this.dots, 0, 0, WIDTH, HEIGHT);
    const { x1, y1, scale } = this.box;
    const view = this.cy.extent();
    ctx.strokeStyle = "#1a6ad6";
    ctx.lineWidth = 1.5;
    ctx.strokeRect(PAD + (view.x1 - x1) * scale, PAD + (view.y1 - y1) * scale, view.w * scale, view.h * scale);
  }

  private drawDots(): void {
    this.dirty = false;
    const nodes = this.cy.nodes(":childless");
    const bb = nodes.length ? nodes.boundingBox({ includeLabels: false }) : { x1: 0, y1: 0, w: 1, h: 1 };
    const scale = Math.min((WIDTH - 2 * PAD) / Math.max(bb.w, 1), (HEIGHT - 2 * PAD) / Math.max(bb.h, 1));
    this.box = { x1: bb.x1, y1: bb.y1, w: bb.w, h: bb.h, scale };
    const ctx = this.dots.getContext("2d")!;
    ctx.clearRect(0, 0, WIDTH, HEIGHT);
    ctx.fillStyle = "#6a7f96";
    nodes.forEach((node) => {
      const p = node.position();
      ctx.fillRect(PAD + (p.x - bb.x1) * scale - 1.5, PAD + (p.y - bb.y1) * scale - 1.5, 3, 3);
    });
  }
}
