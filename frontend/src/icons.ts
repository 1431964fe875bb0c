// Icons of the node kinds, drawn on the canvas: small line drawings on a 24x24 grid, in the
// ink colour, readable down to about 16 pixels.
const INK = "#1d2733";

const svg = (body: string) =>
  `data:image/svg+xml;utf8,${encodeURIComponent(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="${INK}" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">${body}</svg>`,
  )}`;

export const ICONS: Record<string, string> = {
  // a server: two stacked units with their lights
  host: svg('<rect x="4" y="4" width="16" height="7" rx="1.5"/><rect x="4" y="13" width="16" height="7" rx="1.5"/><circle cx="7.5" cy="7.5" r=".8" fill="' + INK + '"/><circle cx="7.5" cy="16.5" r=".8" fill="' + INK + '"/><path d="M11 7.5h6M11 16.5h6"/>'),
  // a router: four arrows crossing in a circle
  router: svg('<circle cx="12" cy="12" r="9"/><path d="M12 5v5M10 7l2-2 2 2M12 19v-5M10 17l2 2 2-2M5 12h5M7 10l-2 2 2 2M19 12h-5M17 10l2 2-2 2"/>'),
  // a switch: arrows both ways over a box
  switch: svg('<rect x="3" y="6" width="18" height="12" rx="2"/><path d="M7 10h10M15 8l2 2-2 2M17 14H7M9 12l-2 2 2 2"/>'),
  // a container: a cube
  container: svg('<path d="M12 3l8 4.5v9L12 21l-8-4.5v-9z"/><path d="M4 7.5l8 4.5 8-4.5M12 12v9"/>'),
  // a LAN segment: a bus with three taps
  segment: svg('<path d="M2 12h20M6 12V6M12 12v6M18 12V6"/><circle cx="6" cy="5" r="1.5"/><circle cx="12" cy="19" r="1.5"/><circle cx="18" cy="5" r="1.5"/>'),
  // an overlay: a cloud with a tunnel through it
  overlay: svg('<path d="M7 18h10a4 4 0 0 0 .5-8A5.5 5.5 0 0 0 7 9.5 4.3 4.3 0 0 0 7 18z"/><path d="M4 14h16" stroke-dasharray="2 2"/>'),
};

export function iconFor(kind: string): string | undefined {
  return ICONS[kind];
}
