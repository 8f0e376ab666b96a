import { h, icon, ICONS } from "../dom.js";

/** A button on a toast. */
export interface ToastAction {
  label: string;
  run: () => void;
}

/** How a toast shows. */
export interface ToastOptions {
  kind?: "info" | "error";
  action?: ToastAction;
  ms?: number;
  /** Names the toast, so that `close(key)` removes it once what it offers is done elsewhere (one per key). */
  key?: string;
}

/** Short notes at the corner of the screen (errors, invitations). */
export class Toasts {
  readonly element: HTMLElement;
  private readonly keyed = new Map<string, () => void>();

  constructor() {
    this.element = h("div", { class: "toasts", "aria-live": "polite" });
  }

  /** Shows a toast for a few seconds (longer with an action); a toast of the same key is replaced. */
  show(text: string, options: ToastOptions = {}): void {
    const { key } = options;
    if (key !== undefined) this.close(key);
    const close = () => {
      clearTimeout(timer);
      toast.remove();
      if (key !== undefined && this.keyed.get(key) === close) this.keyed.delete(key);
    };
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
    const timer = setTimeout(close, options.ms ?? (options.action ? 12_000 : 5000));
    if (key !== undefined) this.keyed.set(key, close);
  }

  /** Removes the toast of this key, if it is still shown. */
  close(key: string): void {
    this.keyed.get(key)?.();
  }
}
