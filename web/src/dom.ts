/** A child of `h`: nodes are appended, strings become text nodes (never parsed as HTML), falsy is skipped. */
export type Child = Node | string | null | undefined | false;

type Listener<K extends keyof HTMLElementEventMap> = (event: HTMLElementEventMap[K]) => void;

/** Attributes (set with `setAttribute`; `true` sets an empty value, `false`/`undefined` skip) and `on*` listeners. */
export type Props = {
  [name: string]: string | number | boolean | undefined | ((event: never) => void);
} & { [K in keyof HTMLElementEventMap as `on${K}`]?: Listener<K> };

/**
 * Creates an element. All user-supplied text goes through text nodes and attribute values, so it can never
 * become markup.
 * @example
 * h("button", { type: "button", "aria-label": "Close", onclick: close }, "×");
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") {
      element.addEventListener(name.slice(2), value as EventListener);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, ...children);
  return element;
}

/** Appends children (strings as text). */
export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** Keeps keyboard focus on the "same" control (by `data-focus-key`) across a rebuild. */
export function keepingFocus(container: HTMLElement, rebuild: () => void): void {
  const focused = document.activeElement;
  const key = focused instanceof HTMLElement && container.contains(focused) ? focused.dataset.focusKey : undefined;
  rebuild();
  if (key === undefined) return;
  for (const element of container.querySelectorAll<HTMLElement>("[data-focus-key]")) {
    if (element.dataset.focusKey === key) return element.focus();
  }
}

/** An inline SVG icon from a path list (static markup of ours, built with DOM calls). */
export function icon(paths: string[], label?: string): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  if (label === undefined) svg.setAttribute("aria-hidden", "true");
  else {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  }
  for (const d of paths) {
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  }
  return svg;
}

/** Icon paths (Feather-style, 24×24). */
export const ICONS = {
  plus: ["M12 5v14", "M5 12h14"],
  hash: ["M4 9h16", "M4 15h16", "M10 3 8 21", "M16 3l-2 18"],
  lock: ["M5 11h14v10H5z", "M8 11V7a4 4 0 0 1 8 0v4"],
  send: ["M22 2 11 13", "M22 2 15 22l-4-9-9-4z"],
  paperclip: [
    "M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48",
  ],
  users: [
    "M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2",
    "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z",
    "M23 21v-2a4 4 0 0 0-3-3.87",
    "M16 3.13a4 4 0 0 1 0 7.75",
  ],
  back: ["M15 18l-6-6 6-6"],
  compass: ["M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z", "M16.24 7.76l-2.12 6.36-6.36 2.12 2.12-6.36z"],
  logout: ["M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4", "M16 17l5-5-5-5", "M21 12H9"],
  file: ["M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z", "M14 2v6h6"],
  download: ["M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4", "M7 10l5 5 5-5", "M12 15V3"],
  arrowDown: ["M12 5v14", "M19 12l-7 7-7-7"],
  userPlus: [
    "M16 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2",
    "M8.5 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z",
    "M20 8v6",
    "M23 11h-6",
  ],
  leave: ["M10 17l5-5-5-5", "M15 12H3", "M21 3v18"],
  bell: ["M18 8A6 6 0 0 0 6 8c0 7-3 9-3 9h18s-3-2-3-9", "M13.73 21a2 2 0 0 1-3.46 0"],
  x: ["M18 6 6 18", "M6 6l12 12"],
  edit: ["M12 20h9", "M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4z"],
  shield: ["M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10z"],
  more: [
    "M12 13a1 1 0 1 0 0-2 1 1 0 0 0 0 2z",
    "M19 13a1 1 0 1 0 0-2 1 1 0 0 0 0 2z",
    "M5 13a1 1 0 1 0 0-2 1 1 0 0 0 0 2z",
  ],
} as const;
