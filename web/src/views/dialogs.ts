import type { Result } from "../../../shared/errors.js";
import type { Room } from "../../../shared/schemas.js";
import { h, icon, ICONS, replaceChildren, type Child } from "../dom.js";
import { background } from "../background.js";

let dialogSeq = 0;

/** Opens a modal `<dialog>` (focus trapped, Escape closes) and removes it when closed. */
export function openModal(title: string, content: (close: () => void) => Child[]): () => void {
  const id = `dialog-title-${(dialogSeq += 1)}`;
  const dialog = h("dialog", { class: "modal", "aria-labelledby": id });
  const close = () => dialog.close();
  dialog.append(
    h(
      "header",
      { class: "modal-header" },
      h("h2", { id }, title),
      h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: close }, icon([...ICONS.x])),
    ),
  );
  for (const child of content(close)) if (child) dialog.append(child);
  dialog.addEventListener("close", () => dialog.remove());
  // A click on the backdrop (the dialog element itself, outside its box) closes it.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) close();
  });
  document.body.append(dialog);
  dialog.showModal();
  return close;
}

/** A form inside a modal that shows a failed `Result`'s message instead of closing. */
export function modalForm<T>(
  close: () => void,
  fields: Child[],
  submitLabel: string,
  submit: (form: HTMLFormElement) => Promise<Result<T>>,
  done: (data: T) => void,
): HTMLFormElement {
  const error = h("p", { class: "form-error", role: "alert" });
  const button = h("button", { type: "submit", class: "button primary" }, submitLabel);
  const form = h(
    "form",
    { class: "modal-body" },
    ...fields,
    error,
    h(
      "div",
      { class: "modal-actions" },
      h("button", { type: "button", class: "button", onclick: close }, "Cancel"),
      button,
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    error.textContent = "";
    background(
      submit(form).then((result) => {
        button.disabled = false;
        if (result.ok) {
          close();
          done(result.data);
        } else {
          error.textContent = result.error.message;
        }
      }),
    );
  });
  return form;
}

/** "Create a room": name and visibility. */
export function createRoomDialog(
  create: (name: string, visibility: "public" | "private") => Promise<Result<Room>>,
  created: (room: Room) => void,
): void {
  openModal("Create a room", (close) => [
    modalForm(
      close,
      [
        h(
          "label",
          { class: "field" },
          h("span", {}, "Room name"),
          h("input", { name: "name", required: true, maxlength: "64", autocomplete: "off", autofocus: true }),
        ),
        h(
          "fieldset",
          { class: "choice" },
          h("legend", {}, "Who can join"),
          h(
            "label",
            {},
            h("input", { type: "radio", name: "visibility", value: "public", checked: true }),
            h("span", {}, h("strong", {}, "Public"), " — anyone can find and join it"),
          ),
          h(
            "label",
            {},
            h("input", { type: "radio", name: "visibility", value: "private" }),
            h("span", {}, h("strong", {}, "Private"), " — only people you invite"),
          ),
        ),
      ],
      "Create room",
      (form) => {
        const data = new FormData(form);
        return create(
          String(data.get("name") ?? "").trim(),
          data.get("visibility") === "private" ? "private" : "public",
        );
      },
      created,
    ),
  ]);
}

/** "Browse rooms": the public rooms this user is not in, each with a Join button. */
export function browseRoomsDialog(
  list: () => Promise<Result<{ discoverable: Room[] }>>,
  join: (roomId: string) => Promise<Result<Room>>,
  joined: (room: Room) => void,
): void {
  const body = h("div", { class: "modal-body" }, h("p", { class: "empty-note" }, "Loading rooms…"));
  openModal("Browse rooms", (close) => {
    background(
      list().then((result) => {
        if (!result.ok)
          return replaceChildren(body, h("p", { class: "form-error", role: "alert" }, result.error.message));
        if (result.data.discoverable.length === 0)
          return replaceChildren(
            body,
            h("p", { class: "empty-note" }, "You are in every public room. Create a new one!"),
          );
        replaceChildren(
          body,
          h(
            "ul",
            { class: "room-browser" },
            ...result.data.discoverable.map((room) => {
              const error = h("span", { class: "form-error", role: "alert" });
              const button = h(
                "button",
                { type: "button", class: "button small primary", "aria-label": `Join ${room.name}` },
                "Join",
              );
              button.addEventListener("click", () => {
                button.disabled = true;
                background(
                  join(room.id).then((answer) => {
                    button.disabled = false;
                    if (answer.ok) {
                      close();
                      joined(answer.data);
                    } else error.textContent = answer.error.message;
                  }),
                );
              });
              return h(
                "li",
                {},
                icon([...ICONS.hash]),
                h("span", { class: "room-name" }, room.name),
                h("span", { class: "room-count" }, `${room.members} ${room.members === 1 ? "member" : "members"}`),
                error,
                button,
              );
            }),
          ),
        );
      }),
    );
    return [body];
  });
}

/** "Invite to <room>": a user id, suggested from the users this tab knows. */
export function inviteDialog(
  roomName: string,
  suggestions: { id: string; name: string }[],
  invite: (userId: string) => Promise<Result<{ userId: string }>>,
  invited: (userId: string) => void,
): void {
  const listId = `invite-suggestions-${(dialogSeq += 1)}`;
  openModal(`Invite to ${roomName}`, (close) => [
    modalForm(
      close,
      [
        h(
          "label",
          { class: "field" },
          h("span", {}, "Username"),
          h("input", {
            name: "user",
            required: true,
            maxlength: "64",
            list: listId,
            autocomplete: "off",
            autofocus: true,
            spellcheck: "false",
          }),
        ),
        h("datalist", { id: listId }, ...suggestions.map((user) => h("option", { value: user.id }, user.name))),
        h("p", { class: "hint" }, "They can join from the invitation they receive."),
      ],
      "Send invitation",
      (form) => invite(String(new FormData(form).get("user") ?? "").trim()),
      (data) => invited(data.userId),
    ),
  ]);
}

/**
 * "Are you sure?" for an action that cannot be undone: a sentence, Cancel, and a danger button that runs the
 * request; a failure shows in the dialog, success closes it.
 */
export function confirmDialog<T>(
  title: string,
  text: string,
  actionLabel: string,
  act: () => Promise<Result<T>>,
  done: (data: T) => void,
): void {
  const error = h("p", { class: "form-error", role: "alert" });
  openModal(title, (close) => [
    h(
      "div",
      { class: "modal-body" },
      h("p", {}, text),
      error,
      h(
        "div",
        { class: "modal-actions" },
        h("button", { type: "button", class: "button", onclick: close }, "Cancel"),
        h(
          "button",
          {
            type: "button",
            class: "button danger",
            onclick: () =>
              background(
                act().then((result) => {
                  if (!result.ok) return void (error.textContent = result.error.message);
                  close();
                  done(result.data);
                }),
              ),
          },
          actionLabel,
        ),
      ),
    ),
  ]);
}
