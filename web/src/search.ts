import type { ChatClient } from "../../client/index.js";
import { conversationOf, type ConversationKey } from "./conversations.js";
import { h } from "./dom.js";
import { formatFull } from "./format.js";
import { openModal } from "./views/dialogs.js";

/** What a search needs from the app. */
export interface SearchContext {
  client: ChatClient;
  me: string;
  /** A conversation's title as the sidebar writes it. */
  titleOf(key: ConversationKey): string;
  nameOf(userId: string): string;
  /** Opens a result: its conversation, scrolled to the message. */
  show(key: ConversationKey, messageId: number): void;
}

/** Searches the messages this user may see (`history:search`) and lists the results in a dialog. */
export async function searchMessages(context: SearchContext, query: string): Promise<void> {
  const result = await context.client.search(query, { limit: 30 });
  const body = h("div", { class: "modal-body search-results" });
  if (!result.ok) body.append(h("p", { class: "form-error", role: "alert" }, result.error.message));
  else if (result.data.messages.length === 0)
    body.append(h("p", { class: "empty-note" }, `Nothing matches “${query}”.`));
  const close = openModal(`Search: ${query}`, () => [body]);
  if (!result.ok) return;
  body.append(
    h(
      "ul",
      { class: "result-list", "aria-label": "Search results" },
      ...result.data.messages.map((message) => {
        const key = conversationOf(message, context.me);
        const where = context.titleOf(key);
        const who = message.from === context.me ? "You" : context.nameOf(message.from);
        return h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: "result",
              onclick: () => {
                close();
                context.show(key, message.id);
              },
            },
            h(
              "span",
              { class: "result-meta" },
              h("span", { class: "result-where" }, key.startsWith("room:") ? `#${where}` : where),
              ` · ${who} · `,
              h("time", { datetime: new Date(message.createAt).toISOString() }, formatFull(message.createAt)),
            ),
            h("span", { class: "result-text" }, message.content ?? ""),
          ),
        );
      }),
    ),
  );
}
