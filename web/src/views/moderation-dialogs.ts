import type { Result } from "../../../shared/errors.js";
import type { Room, RoomUpdateInput } from "../../../shared/schemas.js";
import { h } from "../dom.js";
import { modalForm, openModal } from "./dialogs.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The durations offered for a mute (always timed) and a ban (or for good). */
const DURATIONS = {
  mute: [
    { label: "5 minutes", ms: 5 * MINUTE },
    { label: "1 hour", ms: HOUR },
    { label: "1 day", ms: DAY },
    { label: "1 week", ms: 7 * DAY },
  ],
  ban: [
    { label: "1 hour", ms: HOUR },
    { label: "1 day", ms: DAY },
    { label: "1 week", ms: 7 * DAY },
    { label: "For good", ms: undefined },
  ],
} as const;

/** What a moderation dialog asks for and does. */
export interface ModerateDialogOptions {
  title: string;
  text: string;
  /** Offers durations (the first is chosen); without, the action has none (a kick). */
  durations?: keyof typeof DURATIONS;
  actionLabel: string;
  /** Runs the request with the end chosen (undefined: for good) and the optional reason. */
  act(choice: { until?: number; reason?: string }): Promise<Result<unknown>>;
}

/** Kick, ban or mute a member: a duration where one applies, an optional reason; the server's refusal shows in it. */
export function moderateDialog(options: ModerateDialogOptions): void {
  const durations = options.durations === undefined ? [] : DURATIONS[options.durations];
  openModal(options.title, (close) => [
    modalForm(
      close,
      [
        h("p", {}, options.text),
        durations.length === 0
          ? null
          : h(
              "fieldset",
              { class: "choice" },
              h("legend", {}, "For how long"),
              ...durations.map((duration, index) =>
                h(
                  "label",
                  {},
                  h("input", { type: "radio", name: "duration", value: String(index), checked: index === 0 }),
                  h("span", {}, duration.label),
                ),
              ),
            ),
        h(
          "label",
          { class: "field" },
          h("span", {}, "Reason (optional)"),
          h("input", { name: "reason", maxlength: "500", autocomplete: "off" }),
        ),
      ],
      options.actionLabel,
      (form) => {
        const data = new FormData(form);
        const reason = String(data.get("reason") ?? "").trim();
        const ms = durations[Number(data.get("duration") ?? 0)]?.ms;
        return options.act({
          ...(ms === undefined ? {} : { until: Date.now() + ms }),
          ...(reason === "" ? {} : { reason }),
        });
      },
      () => undefined,
    ),
  ]);
}

/**
 * "Edit room": name, topic and visibility (sends only what changed); with `onDelete`, a "Delete room…" button
 * that closes it and asks for confirmation.
 */
export function editRoomDialog(
  room: Room,
  update: (changes: Omit<RoomUpdateInput, "roomId">) => Promise<Result<Room>>,
  updated: (room: Room) => void,
  onDelete?: () => void,
): void {
  openModal(`Edit ${room.name}`, (close) => [
    modalForm(
      close,
      [
        h(
          "label",
          { class: "field" },
          h("span", {}, "Room name"),
          h("input", {
            name: "name",
            required: true,
            maxlength: "64",
            autocomplete: "off",
            autofocus: true,
            value: room.name,
          }),
        ),
        h(
          "label",
          { class: "field" },
          h("span", {}, "Topic"),
          h("input", { name: "topic", maxlength: "256", autocomplete: "off", value: room.topic ?? "" }),
        ),
        h(
          "fieldset",
          { class: "choice" },
          h("legend", {}, "Who can join"),
          h(
            "label",
            {},
            h("input", { type: "radio", name: "visibility", value: "public", checked: room.visibility === "public" }),
            h("span", {}, h("strong", {}, "Public"), " — anyone can find and join it"),
          ),
          h(
            "label",
            {},
            h("input", {
              type: "radio",
              name: "visibility",
              value: "private",
              checked: room.visibility === "private",
            }),
            h("span", {}, h("strong", {}, "Private"), " — only people invited"),
          ),
        ),
      ],
      "Save",
      (form) => {
        const data = new FormData(form);
        const name = String(data.get("name") ?? "").trim();
        const topic = String(data.get("topic") ?? "").trim();
        const visibility = data.get("visibility") === "private" ? "private" : "public";
        const changes: Omit<RoomUpdateInput, "roomId"> = {
          ...(name === room.name ? {} : { name }),
          ...(topic === (room.topic ?? "") ? {} : { topic }),
          ...(visibility === room.visibility ? {} : { visibility }),
        };
        if (Object.keys(changes).length === 0) return Promise.resolve({ ok: true, data: room });
        return update(changes);
      },
      updated,
    ),
    onDelete
      ? h(
          "div",
          { class: "modal-body danger-zone" },
          h("p", { class: "hint" }, "Deleting the room removes it and its history for everyone."),
          h(
            "button",
            {
              type: "button",
              class: "button danger",
              onclick: () => {
                close();
                onDelete();
              },
            },
            "Delete room…",
          ),
        )
      : null,
  ]);
}
