import type { Result } from "../../../shared/errors.js";
import type { UserSettings } from "../../../shared/schemas.js";
import { background } from "../background.js";
import { h, replaceChildren } from "../dom.js";
import type { Person } from "../people.js";
import { avatar } from "./avatar.js";
import { AvatarCropper } from "./avatar-cropper.js";
import { openModal } from "./dialogs.js";

/** The notification choices this browser keeps. */
export interface NotifyChoices {
  enabled: boolean;
  sound: boolean;
}

/** What the dialog starts from. */
export interface ProfileState {
  me: Person;
  notify: NotifyChoices & { supported: boolean };
}

/** What the user changed; a field left out is unchanged. */
export interface ProfileChanges {
  name?: string;
  readReceipts?: boolean;
  /** A new picture (already cropped to a square), or `null` to remove the avatar. */
  avatar?: Blob | null;
  notify: NotifyChoices;
}

/** What the dialog asks the app to do. */
export interface ProfileContext {
  /** The server's current settings (`user:update {}`): read receipts are only known there. */
  load(): Promise<Result<UserSettings>>;
  /** Saves everything or nothing; resolves an error message, or undefined when it was saved. */
  save(changes: ProfileChanges): Promise<string | undefined>;
  /** Opens "Change password" (this dialog closes first). */
  changePassword(): void;
  /** Opens "Sign out everywhere?" (this dialog closes first). */
  signOutEverywhere(): void;
}

const IMAGE_TYPES = "image/png,image/jpeg,image/gif,image/webp";

/**
 * "Profile and settings": display name, avatar (chosen, cropped to a square here, uploaded on Save), read
 * receipts, and this browser's notification choices. Nothing changes until Save; an error from the server
 * shows in the dialog, which stays open.
 */
export function profileDialog(state: ProfileState, context: ProfileContext): void {
  let pictureChoice: "keep" | "new" | "remove" = "keep";
  let loaded: UserSettings | undefined;
  const error = h("p", { class: "form-error", role: "alert" });
  const cropper = new AvatarCropper();
  const current = h("div", { class: "profile-avatar" });
  const showCurrent = () => {
    const shown = pictureChoice === "remove" ? { id: state.me.id, name: state.me.name } : state.me;
    replaceChildren(current, avatar(shown, "large"));
    current.hidden = pictureChoice === "new";
    remove.hidden = pictureChoice === "remove" || (pictureChoice === "keep" && state.me.avatarUrl === undefined);
  };

  const fileInput = h("input", { type: "file", accept: IMAGE_TYPES, hidden: true, "aria-label": "Picture file" });
  const choose = h(
    "button",
    { type: "button", class: "button small", onclick: () => fileInput.click() },
    "Choose a picture…",
  );
  const remove = h(
    "button",
    {
      type: "button",
      class: "button small",
      onclick: () => {
        pictureChoice = "remove";
        cropper.clear();
        showCurrent();
        choose.focus();
      },
    },
    "Remove picture",
  );
  fileInput.addEventListener("change", () => {
    const file = fileInput.files?.[0];
    fileInput.value = "";
    if (!file) return;
    error.textContent = "";
    background(
      cropper.load(file).then((ok) => {
        if (!ok) {
          error.textContent = "That file is not a picture this browser can read.";
          return;
        }
        pictureChoice = "new";
        showCurrent();
      }),
    );
  });

  const name = h("input", {
    name: "name",
    value: state.me.name,
    required: true,
    autocomplete: "nickname",
    spellcheck: "false",
    autofocus: true,
  });
  const receipts = h("input", { type: "checkbox", name: "readReceipts", disabled: true });
  const desktop = h("input", {
    type: "checkbox",
    name: "desktop",
    checked: state.notify.enabled,
    disabled: !state.notify.supported,
  });
  const sound = h("input", { type: "checkbox", name: "sound", checked: state.notify.sound });
  const save = h("button", { type: "submit", class: "button primary", disabled: true }, "Save");

  const form = h(
    "form",
    { class: "modal-body profile-form" },
    h(
      "fieldset",
      { class: "profile-section" },
      h("legend", {}, "Picture"),
      h(
        "div",
        { class: "profile-picture" },
        current,
        cropper.element,
        h("div", { class: "profile-picture-actions" }, choose, remove, fileInput),
      ),
    ),
    h(
      "label",
      { class: "field" },
      h("span", {}, "Display name"),
      name,
      h("span", { class: "hint" }, `Your user id stays @${state.me.id}.`),
    ),
    h(
      "fieldset",
      { class: "choice" },
      h("legend", {}, "Privacy"),
      h("label", { class: "check" }, receipts, h("span", {}, "Send read receipts (others see what you have read)")),
    ),
    h(
      "fieldset",
      { class: "choice" },
      h("legend", {}, "Notifications in this browser"),
      h(
        "label",
        { class: "check" },
        desktop,
        h(
          "span",
          {},
          state.notify.supported
            ? "Desktop notifications of direct messages and mentions while this tab is hidden"
            : "Desktop notifications (this browser has none)",
        ),
      ),
      h("label", { class: "check" }, sound, h("span", {}, "Play a sound with each notification")),
    ),
    h(
      "fieldset",
      { class: "choice" },
      h("legend", {}, "Account"),
      h(
        "div",
        { class: "profile-picture-actions" },
        h(
          "button",
          { type: "button", class: "button small", onclick: () => (close(), context.changePassword()) },
          "Change password…",
        ),
        h(
          "button",
          { type: "button", class: "button small", onclick: () => (close(), context.signOutEverywhere()) },
          "Sign out everywhere…",
        ),
      ),
    ),
    error,
    h(
      "div",
      { class: "modal-actions" },
      h("button", { type: "button", class: "button", onclick: () => close() }, "Cancel"),
      save,
    ),
  );

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save.disabled = true;
    error.textContent = "";
    background(
      (async () => {
        const changes: ProfileChanges = { notify: { enabled: desktop.checked, sound: sound.checked } };
        if (name.value.trim() !== state.me.name) changes.name = name.value.trim();
        if (loaded && receipts.checked !== loaded.readReceipts) changes.readReceipts = receipts.checked;
        if (pictureChoice === "remove") changes.avatar = null;
        if (pictureChoice === "new") {
          const blob = await cropper.toBlob();
          if (!blob) {
            save.disabled = false;
            error.textContent = "This browser could not draw the picture.";
            return;
          }
          changes.avatar = blob;
        }
        const failed = await context.save(changes);
        save.disabled = false;
        if (failed === undefined) close();
        else error.textContent = failed;
      })(),
    );
  });

  showCurrent();
  const close = openModal("Profile and settings", () => [form]);
  background(
    context.load().then((result) => {
      save.disabled = false;
      if (!result.ok) {
        error.textContent = `Read receipts are unknown: ${result.error.message}`;
        return;
      }
      loaded = result.data;
      receipts.checked = result.data.readReceipts;
      receipts.disabled = false;
    }),
  );
}
