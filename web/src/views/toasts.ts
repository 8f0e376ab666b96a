import { h, icon, ICONS } from "../dom.js";

/** A button on a toast. */
export interface ToastAction {
  label: string;
  run: () => void;
}

/** Short notes at the corner of the screen (errors, invitations). */
export class Toasts {
  readonly element: HTMLElement;

  constructor() {
    this.element = h("div", { class: "toasts", "aria-live": "polite" });
  }

  /** Shows a toast for a few seconds (longer with an action). */
  show(text: string, options: { kind?: "info" | "error"; action?: ToastAction; ms?: number } = {}): void {
    const close = () => toast.remove();
    const toast = h(
      "div",
      {
        class: `toast ${options.kind === "error" ? "is-error" : ""}`,
        role: options.kind === "error" ? "alert" : "status",
      },
      h("p", {}, text),
      options.action
        ? h(
            "button",
            {
              type: "button",
              class: "button small primary",
              onclick: () => {
                close();
                options.action!.run();
              },
            },
            options.action.label,
          )
        : null,
      h(
        "button",
        { type: "button", class: "icon-button", "aria-label": "Dismiss", onclick: close },
        icon([...ICONS.x]),
      ),
    );
    this.element.append(toast);
    setTimeout(close, options.ms ?? (options.action ? 12_000 : 5000));
  }
}
