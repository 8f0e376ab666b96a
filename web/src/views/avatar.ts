import { h, type Child } from "../dom.js";
import { hueOf, initial } from "../format.js";
import type { Person } from "../people.js";

/** Avatar sizes: 36 px beside messages, 28 px in lists, 22 px in the sidebar, 72 px in the profile dialog. */
export type AvatarSize = "normal" | "small" | "tiny" | "large";

/** Only our own file URLs are shown: an avatar URL is a path of this server's file store. */
const safeAvatarUrl = (url: string | undefined): string | undefined =>
  url !== undefined && url.startsWith("/files/") ? url : undefined;

/**
 * A user's avatar: their image when they have one, else the first letter of their name on a colour of their
 * id. Decorative (`aria-hidden`): the name is always written beside it. `extra` goes inside (an online dot).
 */
export function avatar(person: Person, size: AvatarSize = "normal", extra?: Child): HTMLElement {
  const url = safeAvatarUrl(person.avatarUrl);
  const classes = `avatar${size === "normal" ? "" : ` ${size}`}${url === undefined ? "" : " has-image"}`;
  return h(
    "span",
    { class: classes, style: `--hue:${hueOf(person.id)}`, "aria-hidden": "true" },
    url === undefined ? initial(person.name) : h("img", { src: url, alt: "", loading: "lazy", decoding: "async" }),
    extra,
  );
}
