// Small DOM helpers shared by the page apps.

/** A new element with text (set as text, never as HTML) and a class. */
export function el(tag: string, content = "", className = ""): HTMLElement {
  const element = document.createElement(tag);
  if (content) element.textContent = content;
  if (className) element.className = className;
  return element;
}

/** Text made safe to put into HTML. */
export const esc = (value: unknown) =>
  String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** The first element `selector` matches (the page apps know their pages' elements). */
export const $ = <T extends HTMLElement = HTMLElement>(selector: string) => document.querySelector(selector) as T;
