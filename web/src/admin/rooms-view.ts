import type { Room, StoredMessage } from "../../../shared/schemas.js";
import { background } from "../background.js";
import { h, replaceChildren } from "../dom.js";
import type { AdminApi } from "./api.js";
import { button, confirmAction, ResultLine, table, when, type AdminView } from "./ui.js";

/** The lobby is never deleted (docs/protocol.md section 11). */
const LOBBY = "lobby";

/** What a message shows as in the console: its text, or what it is. */
function summary(message: StoredMessage): string {
  if (message.deletedAt !== undefined) return "This message was deleted.";
  if (message.content !== undefined && message.content !== "") return message.content;
  return message.mediaType === "image" ? "(an image)" : "(a file)";
}

/**
 * Rooms: every room in pages with its member count, "Delete room" (every room but the lobby), and a room's
 * recent messages with "Delete" on each (`DELETE /api/admin/messages/:id`: everyone who may see it gets the
 * tombstone). Room deletion answers 404 until `DELETE /api/admin/rooms/:id` lands; its message shows.
 */
export class RoomsView implements AdminView {
  readonly element: HTMLElement;
  private readonly result = new ResultLine();
  private readonly list = h("div", { class: "admin-list" });
  private readonly pager = h("div", { class: "admin-pager" });
  private readonly messages = h("div", { class: "admin-messages" });
  private cursors: (string | undefined)[] = [undefined];
  private rooms: Room[] = [];
  private hasMore = false;

  constructor(private readonly api: AdminApi) {
    this.element = h(
      "section",
      { class: "admin-section", "aria-labelledby": "admin-title" },
      h("h1", { id: "admin-title" }, "Rooms"),
      this.result.element,
      this.list,
      this.pager,
      this.messages,
    );
    this.load();
  }

  private load(): void {
    background(
      this.api.rooms(this.cursors.at(-1)).then((answer) => {
        if (!answer.ok) return this.result.failed(answer.error.message);
        this.rooms = answer.data.rooms;
        this.hasMore = answer.data.hasMore;
        this.render();
      }),
    );
  }

  private render(): void {
    replaceChildren(
      this.list,
      table(
        "Rooms",
        ["Room", "Visibility", "Members", "Actions"],
        this.rooms.map((room) => [
          h("span", { class: "admin-user" }, h("strong", {}, room.name), h("span", { class: "hint" }, room.id)),
          room.visibility,
          String(room.members),
          h(
            "span",
            { class: "admin-actions" },
            button("Messages", () => this.showMessages(room), { name: `Messages of ${room.name}` }),
            room.id === LOBBY
              ? null
              : button("Delete room", () => this.deleteRoom(room), { danger: true, name: `Delete room ${room.name}` }),
          ),
        ]),
        "No rooms.",
      ),
    );
    replaceChildren(
      this.pager,
      this.cursors.length > 1 ? button("Previous page", () => (this.cursors.pop(), this.load())) : null,
      this.hasMore
        ? button("Next page", () => {
            this.cursors.push(this.rooms.at(-1)?.id);
            this.load();
          })
        : null,
    );
  }

  private deleteRoom(room: Room): void {
    confirmAction(
      this.result,
      {
        title: `Delete ${room.name}?`,
        text: `The room ${room.name} (${room.id}) and its whole history are deleted for everyone; its ${room.members} members are told. This cannot be undone.`,
        action: "Delete room",
      },
      () => this.api.deleteRoom(room.id),
      () => {
        this.rooms = this.rooms.filter((other) => other.id !== room.id);
        this.render();
        replaceChildren(this.messages);
        return `The room ${room.name} was deleted.`;
      },
    );
  }

  /** A room's newest messages, and older ones on demand. */
  private showMessages(room: Room, before?: number, shown: StoredMessage[] = []): void {
    background(
      this.api.roomMessages(room.id, before).then((answer) => {
        if (!answer.ok) return this.result.failed(answer.error.message);
        const messages = [...answer.data.messages, ...shown];
        const older = messages[0];
        const list = h("ol", { class: "admin-message-list", "aria-label": `Recent messages of ${room.name}` });
        const draw = () =>
          replaceChildren(
            list,
            ...messages.map((message) =>
              h(
                "li",
                {
                  class: `admin-message${message.deletedAt !== undefined ? " is-deleted" : ""}`,
                  "data-id": String(message.id),
                },
                h(
                  "div",
                  { class: "admin-message-meta" },
                  h("strong", {}, message.from),
                  h("span", { class: "hint" }, `#${message.id} · ${when(message.createAt)}`),
                ),
                h("p", { class: "admin-message-text" }, summary(message)),
                message.deletedAt !== undefined
                  ? null
                  : button("Delete", () => del(message), { danger: true, name: `Delete message ${message.id}` }),
              ),
            ),
          );
        const del = (message: StoredMessage) =>
          confirmAction(
            this.result,
            {
              title: "Delete this message?",
              text: `Message #${message.id} by ${message.from} in ${room.name} becomes “This message was deleted.” for everyone.`,
              action: "Delete message",
            },
            () => this.api.deleteMessage(message.id),
            (tombstone) => {
              const at = messages.findIndex((other) => other.id === tombstone.id);
              if (at >= 0) messages[at] = tombstone;
              draw();
              return `Message #${message.id} by ${message.from} was deleted.`;
            },
          );
        draw();
        replaceChildren(
          this.messages,
          h("h2", {}, `Recent messages of ${room.name}`),
          messages.length === 0 ? h("p", { class: "empty-note" }, "No messages in this room.") : list,
          answer.data.hasMore && older
            ? button("Older messages", () => this.showMessages(room, older.id, messages))
            : null,
        );
      }),
    );
  }
}
