import type { Child } from "./dom.js";
import { h } from "./dom.js";

/** The characters a user id is made of (shared/ids.ts): a mention ends where they do. */
const ID_CHAR = "[A-Za-z0-9_.@:-]";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * `@<id>` as a whole word: not inside a longer id, and a trailing `.` that ends the sentence is not part
 * of it ("thanks @bob." mentions bob; "@bob.smith" does not).
 */
export function mentionPattern(userId: string): RegExp {
  return new RegExp(`(?<!${ID_CHAR})@${escapeRegExp(userId)}(?![A-Za-z0-9_@:-]|\\.[A-Za-z0-9_@:-])`, "g");
}

/** Whether a message text mentions the user. */
export const mentions = (text: string | undefined, userId: string): boolean =>
  text !== undefined && mentionPattern(userId).test(text);

/**
 * Wraps each mention of `userId` in the text parts of rendered content (links stay as they are) in a
 * `<mark class="mention">`, built as elements: the text never becomes markup.
 */
export function highlightMentions(parts: Child[], userId: string): Child[] {
  const out: Child[] = [];
  for (const part of parts) {
    if (typeof part !== "string") {
      out.push(part);
      continue;
    }
    let last = 0;
    for (const match of part.matchAll(mentionPattern(userId))) {
      if (match.index > last) out.push(part.slice(last, match.index));
      out.push(h("mark", { class: "mention" }, match[0]));
      last = match.index + match[0].length;
    }
    if (last < part.length) out.push(part.slice(last));
  }
  return out;
}

/** The `@word` being typed just before the caret, if any: where it starts and what follows the `@`. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | undefined {
  const match = new RegExp(`(?:^|[^A-Za-z0-9_.@:-])@(${ID_CHAR}{0,64})$`).exec(text.slice(0, caret));
  if (!match) return undefined;
  const query = match[1] ?? "";
  return { start: caret - query.length - 1, query };
}
