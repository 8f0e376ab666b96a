import type { Result } from "../../../shared/errors.js";
import { h } from "../dom.js";
import { confirmDialog, modalForm, openModal } from "./dialogs.js";

/**
 * "Change password": the current one and a new one (8–256 characters). The server's error (a wrong current
 * password, an account of an external issuer) shows in the dialog, which stays open.
 */
export function changePasswordDialog(
  change: (currentPassword: string, newPassword: string) => Promise<Result<undefined>>,
  changed: () => void,
): void {
  openModal("Change password", (close) => [
    modalForm(
      close,
      [
        h(
          "label",
          { class: "field" },
          h("span", {}, "Current password"),
          h("input", {
            name: "current",
            type: "password",
            required: true,
            maxlength: "256",
            autocomplete: "current-password",
            autofocus: true,
          }),
        ),
        h(
          "label",
          { class: "field" },
          h("span", {}, "New password"),
          h("input", {
            name: "next",
            type: "password",
            required: true,
            minlength: "8",
            maxlength: "256",
            autocomplete: "new-password",
          }),
        ),
        h("p", { class: "hint" }, "At least 8 characters. Your other tabs and devices will be signed out."),
      ],
      "Change password",
      (form) => {
        const data = new FormData(form);
        return change(String(data.get("current") ?? ""), String(data.get("next") ?? ""));
      },
      changed,
    ),
  ]);
}

/** "Sign out everywhere?": every session of this user ends, this one too. */
export function signOutEverywhereDialog(signOut: () => Promise<Result<undefined>>): void {
  confirmDialog(
    "Sign out everywhere?",
    "Every session of your account ends now: other tabs, other devices and this one. You will need to sign in again.",
    "Sign out everywhere",
    signOut,
    () => undefined,
  );
}
