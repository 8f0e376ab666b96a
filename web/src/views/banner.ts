import type { ConnectionState } from "../../../client/index.js";
import { h, replaceChildren } from "../dom.js";

/** The connection banner: hidden while online, says so while connecting, reconnecting or offline. */
export class BannerView {
  readonly element: HTMLElement;
  private backTimer: ReturnType<typeof setTimeout> | undefined;
  private shown: ConnectionState = "online";

  constructor(private readonly onRetry: () => void) {
    this.element = h("div", { class: "banner", role: "status", "aria-live": "polite", hidden: true });
  }

  /** Shows the state; `browserOffline` when the browser itself says it has no network. */
  set(state: ConnectionState, browserOffline: boolean): void {
    const was = this.shown;
    this.shown = state;
    clearTimeout(this.backTimer);
    if (state === "online") {
      if (was === "reconnecting" || was === "offline") {
        this.show("is-back", "Back online.");
        this.backTimer = setTimeout(() => (this.element.hidden = true), 2500);
      } else {
        this.element.hidden = true;
      }
      return;
    }
    if (state === "connecting") this.show("is-connecting", "Connecting…");
    else if (state === "reconnecting")
      this.show(
        "is-reconnecting",
        browserOffline
          ? "You are offline. Reconnecting when the network is back…"
          : "Reconnecting… Messages sent meanwhile will appear when you are back.",
      );
    else
      this.show(
        "is-offline",
        "Offline. ",
        h("button", { type: "button", class: "link-button", onclick: this.onRetry }, "Try again"),
      );
  }

  private show(kind: string, ...content: (string | HTMLElement)[]): void {
    this.element.className = `banner ${kind}`;
    replaceChildren(this.element, h("span", { class: "banner-dot", "aria-hidden": "true" }), ...content);
    this.element.hidden = false;
  }
}
