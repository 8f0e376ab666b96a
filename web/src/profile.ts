import type { ChatClient } from "../../client/index.js";
import type { User, UserSettings, UserUpdateInput } from "../../shared/schemas.js";
import { uploadFile } from "./files.js";
import type { Notifier } from "./notifications.js";
import type { People } from "./people.js";
import { saveSession, type StoredSession } from "./storage.js";
import type { Account } from "./account.js";
import { changePasswordDialog, signOutEverywhereDialog } from "./views/account-dialogs.js";
import { profileDialog, type ProfileChanges } from "./views/profile-dialog.js";

/** What the profile controller needs from the app. */
export interface ProfileContext {
  client: ChatClient;
  /** The signed-in session: its `user` is me, kept up to date here and saved for a reload. */
  session: StoredSession;
  people: People;
  notifier: Notifier;
  /** Password change and sign out everywhere. */
  account: Account;
  /** My name or avatar changed. */
  changed(me: User): void;
}

/** My profile: the dialog that edits it, and my name and avatar as the server has them. */
export class Profile {
  constructor(private readonly context: ProfileContext) {}

  /** This user's id. */
  get userId(): string {
    return this.context.session.user.id;
  }

  /** Opens "Profile and settings". */
  open(): void {
    const { account, client, notifier, people, session } = this.context;
    profileDialog(
      {
        me: people.person(session.user.id),
        notify: { supported: notifier.supported, enabled: notifier.enabled, sound: notifier.sound },
      },
      {
        load: () => client.updateUser({}),
        save: (changes) => this.save(changes),
        changePassword: () =>
          changePasswordDialog(
            (current, next) => account.changePassword(current, next),
            () => undefined,
          ),
        signOutEverywhere: () => signOutEverywhereDialog(() => account.signOutEverywhere()),
      },
    );
  }

  /** My name and avatar as the server has them now (a save here, or the session of a connect). */
  apply(user: User | UserSettings): void {
    const { people, session } = this.context;
    const me = session.user;
    me.name = user.name;
    if (user.avatarUrl === undefined) delete me.avatarUrl;
    else me.avatarUrl = user.avatarUrl;
    people.set(me);
    saveSession(session);
    this.context.changed(me);
  }

  /**
   * Saves the dialog: the browser's permission first (while the click still counts as a gesture), then the
   * new picture through the upload route, then one `user:update`, which the server applies whole or not at
   * all; the notification choices are kept only once that succeeded.
   */
  private async save(changes: ProfileChanges): Promise<string | undefined> {
    const { client, notifier, session } = this.context;
    if (changes.notify.enabled && !notifier.enabled && !(await notifier.allow())) {
      return "This browser blocks notifications for this site.";
    }
    const update: UserUpdateInput = {};
    if (changes.name !== undefined) update.name = changes.name;
    if (changes.readReceipts !== undefined) update.readReceipts = changes.readReceipts;
    if (changes.avatar === null) update.avatarFileId = null;
    else if (changes.avatar !== undefined) {
      const file = new File([changes.avatar], "avatar.png", { type: changes.avatar.type || "image/png" });
      const uploaded = await uploadFile(file, session.token, () => undefined);
      if (!uploaded.ok) return uploaded.error.message;
      update.avatarFileId = uploaded.data.fileId;
    }
    if (Object.keys(update).length > 0) {
      const result = await client.updateUser(update);
      if (!result.ok) return result.error.message;
      this.apply(result.data);
    }
    notifier.set(changes.notify);
    return undefined;
  }
}
