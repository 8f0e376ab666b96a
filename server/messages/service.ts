import { SYSTEM_USER_ID } from "../../shared/ids.js";
import type {
  Conversation,
  HistoryList,
  MessagePage,
  Revision,
  SendMessage,
  StoredMessage,
} from "../../shared/schemas.js";
import { canSee, requireMember, resolveConversation } from "../conversations/keys.js";
import { channelsOf } from "../delivery/audience.js";
import type { Delivery } from "../delivery/deliver.js";
import { AppError, forbidden, notFound } from "../errors.js";
import type { ChangeRefusal, ChangeResult, MessageDraft, MessageRecord, Store } from "../store/types.js";
import { BROADCAST_CONVERSATION, directConversation, roomConversation, systemConversation } from "./conversation.js";

/** Distinct reaction keys one message may carry; a toggle that would add one more is CONFLICT. */
export const MAX_REACTION_KEYS = 20;

/** Why a change was refused, as the client is told. */
const REFUSALS: Record<ChangeRefusal, () => AppError> = {
  missing: () => notFound("message"),
  "not-author": () => forbidden("only the author may change a message"),
  deleted: () => forbidden("a deleted message cannot be changed"),
  "not-text": () => forbidden("only text messages can be edited"),
  "window-passed": () => forbidden("the edit window has passed"),
  "too-many-reactions": () =>
    new AppError("CONFLICT", `a message carries at most ${MAX_REACTION_KEYS} different reactions`),
};

/** The message a conditional change answers, or the refusal it was, thrown. */
function changed(result: ChangeResult): StoredMessage {
  if (!result.ok) throw REFUSALS[result.refusal]();
  return result.message;
}

/** Where a system message goes. */
export type SystemTarget = { user: string } | { room: string } | { all: true };

/** Hooks the message service reports to (metrics). */
export interface MessageEvents {
  accepted?: (message: StoredMessage) => void;
}

/** A system message and the number of sockets (on every node) it reached at once. */
export interface SystemSendResult {
  message: StoredMessage;
  delivered: number;
}

/** Options of the message service. */
export interface MessageServiceOptions {
  now: () => number;
  /** How long after `createAt` its author may edit a message (inclusive). @default 900000 */
  editWindowMs: number;
  events?: MessageEvents;
  /** Removes a file once the last message holding it is deleted. */
  files?: { releaseIfUnreferenced(fileId: string): Promise<void> };
}

/**
 * The words of a search query: runs of letters and digits, all of which must match. Quotes and operators
 * are ordinary characters and never reach an engine's query syntax. A word repeated (in any case) is
 * searched once: an engine reads every word's postings, so "alpha alpha …" 33 times cost 33 times one
 * "alpha" (issue 12, item 7) for the same matches.
 */
export function searchWords(q: string): string[] {
  const words = q.match(/[\p{L}\p{N}\p{M}\p{Co}]+/gu);
  if (!words) return [];
  const seen = new Set<string>();
  return words.filter((word) => !seen.has(word.toLowerCase()) && seen.add(word.toLowerCase()));
}

/**
 * Accepts, stores, changes and routes messages, and answers history, sync and search: the one place that
 * knows who may see what (a room's current members; a direct conversation's two users; a system message's
 * target).
 */
export class MessageService {
  private readonly now: () => number;
  private readonly events: MessageEvents;

  constructor(
    private readonly delivery: Delivery,
    private readonly store: Store,
    private readonly options: MessageServiceOptions,
  ) {
    this.now = options.now;
    this.events = options.events ?? {};
  }

  /**
   * Stores a user's message, then delivers it: a single message to every socket of the recipient and the
   * sender's other sockets, a group message to every member's sockets but the sending one. A resend with
   * a used `clientMsgId` returns the first message and delivers nothing. `sequenced` is called once the
   * message is queued in the store's commit order (the socket's next send may start then).
   */
  async send(
    senderId: string,
    input: SendMessage,
    originSocketId?: string,
    sequenced?: () => void,
  ): Promise<StoredMessage> {
    // A resend is answered before anything else is checked: the sender may have left the room since, or the
    // file may be gone, and the first message is still the answer.
    if (input.clientMsgId !== undefined) {
      const first = await this.store.messageByClientId(senderId, input.clientMsgId);
      if (first) return first;
    }
    let draft: MessageDraft;
    const base = {
      mediaType: input.mediaType,
      from: senderId,
      to: input.to,
      content: input.content,
      fileId: input.fileId,
      clientMsgId: input.clientMsgId,
      replyTo: input.replyTo,
      createAt: this.now(),
    };
    if (input.messageType === "single") {
      if (input.to === SYSTEM_USER_ID) throw forbidden("the system user does not take messages");
      if (!(await this.store.userExists(input.to))) throw notFound("user");
      draft = {
        ...base,
        messageType: "single",
        conversation: directConversation(senderId, input.to),
        recipientUser: input.to,
      };
    } else {
      // The store checks membership in the append's own transaction (a leave cannot slip in between); asking
      // first as well would cost a round trip per send on PostgreSQL. Only a send with a file or a reply,
      // whose checks below come after membership, asks first, so that the errors keep their order.
      if (input.fileId !== undefined || input.replyTo !== undefined)
        await requireMember(this.store, input.to, senderId);
      draft = { ...base, messageType: "group", conversation: roomConversation(input.to), recipientUser: null };
    }
    if (input.fileId !== undefined) {
      const file = await this.store.getFile(input.fileId);
      if (!file || file.owner !== senderId) throw notFound("file");
      if (input.mediaType === "image" && file.mediaType !== "image") {
        throw new AppError("INVALID_PAYLOAD", "an image message needs an image file");
      }
    }
    if (input.replyTo !== undefined) {
      const target = await this.store.getMessage(input.replyTo);
      if (!target || target.conversation !== draft.conversation) throw notFound("message to reply to");
    }
    const appended = this.store.appendMessage(draft);
    sequenced?.();
    const { message, created, prev } = await appended.catch(async (error: unknown) => {
      // Refused as a non-member: a room that does not exist is NOT_FOUND, as `requireMember` says.
      if (draft.messageType === "group" && error instanceof AppError && error.code === "FORBIDDEN")
        await requireMember(this.store, draft.to, senderId);
      throw error;
    });
    if (created) {
      this.events.accepted?.(message);
      this.delivery.message(draft.conversation, message, originSocketId, prev);
    }
    return message;
  }

  /** Stores a system message to a user, a room or everyone and delivers it to who is connected now. */
  async sendSystem(target: SystemTarget, content: string): Promise<SystemSendResult> {
    let draft: MessageDraft;
    const base = {
      messageType: "system" as const,
      mediaType: "text" as const,
      from: SYSTEM_USER_ID,
      content,
      createAt: this.now(),
    };
    if ("user" in target) {
      if (target.user === SYSTEM_USER_ID || !(await this.store.userExists(target.user))) throw notFound("user");
      draft = { ...base, to: target.user, conversation: systemConversation(target.user), recipientUser: target.user };
    } else if ("room" in target) {
      if (!(await this.store.getRoom(target.room))) throw notFound("room");
      draft = { ...base, to: target.room, conversation: roomConversation(target.room), recipientUser: null };
    } else {
      draft = { ...base, to: "*", conversation: BROADCAST_CONVERSATION, recipientUser: null };
    }
    const { message, prev } = await this.store.appendMessage(draft);
    this.events.accepted?.(message);
    this.delivery.message(draft.conversation, message, undefined, prev);
    return { message, delivered: await this.delivery.countSockets(channelsOf(draft.conversation)) };
  }

  /** One page of a room's or a direct conversation's history, if the caller may see it. */
  async history(userId: string, query: HistoryList): Promise<MessagePage> {
    const conversation: Conversation = query.room !== undefined ? { room: query.room } : { user: query.user! };
    const { keys } = await resolveConversation(this.store, userId, conversation);
    return this.store.conversationPage(keys, query);
  }

  /** Every message the caller may see whose rev is above `after` (new, edited, deleted, reacted), by rev. */
  sync(userId: string, after: number, limit: number): Promise<MessagePage> {
    return this.store.visibleAfter(userId, after, limit);
  }

  /** A message the caller may see; NOT_FOUND for one that does not exist or that it may not see. */
  private async visible(userId: string, id: number): Promise<MessageRecord> {
    const record = await this.store.getMessage(id);
    if (!record || !(await canSee(this.store, userId, record.conversation))) throw notFound("message");
    return record;
  }

  /**
   * The author edits a text message within the edit window; the previous text becomes a revision. The checks
   * are the store's, in the transaction that writes: a delete stored first makes the edit FORBIDDEN.
   */
  async edit(userId: string, id: number, content: string, originSocketId?: string): Promise<StoredMessage> {
    const record = await this.visible(userId, id);
    const at = this.now();
    const result = await this.store.editMessage(id, {
      author: userId,
      content,
      at,
      createdFrom: at - this.options.editWindowMs,
    });
    const updated = changed(result);
    this.delivery.messageUpdated(record.conversation, updated, originSocketId);
    return updated;
  }

  /**
   * Deletes a message, leaving a tombstone: by its author, or by anyone when `asAdmin` (the library API).
   * Deleting a tombstone again returns it unchanged and tells nobody.
   */
  async delete(userId: string, id: number, originSocketId?: string, asAdmin = false): Promise<StoredMessage> {
    const record = asAdmin ? await this.store.getMessage(id) : await this.visible(userId, id);
    if (!record) throw notFound("message");
    const result = await this.store.deleteMessage(id, { author: asAdmin ? undefined : userId, at: this.now() });
    const tombstone = changed(result);
    if (result.ok && result.changed) this.delivery.messageUpdated(record.conversation, tombstone, originSocketId);
    if (record.message.fileId !== undefined) await this.options.files?.releaseIfUnreferenced(record.message.fileId);
    return tombstone;
  }

  /** Earlier texts of a message the caller may see, oldest first ([] once deleted). */
  async revisions(userId: string, id: number): Promise<Revision[]> {
    await this.visible(userId, id);
    return this.store.revisions(id);
  }

  /**
   * Adds or removes the caller's emoji on a message it may see; a toggle that changes nothing is silent.
   * The others get the whole message in `message:updated`, as for an edit (at most 20 keys keep it bounded).
   */
  async react(userId: string, id: number, emoji: string, on: boolean, originSocketId?: string): Promise<StoredMessage> {
    const record = await this.visible(userId, id);
    const result = await this.store.setReaction(id, { emoji, userId, on, at: this.now(), maxKeys: MAX_REACTION_KEYS });
    const message = changed(result);
    if (result.ok && result.changed) this.delivery.messageUpdated(record.conversation, message, originSocketId);
    return message;
  }

  /** Full-text search over what the caller may see, best match first, then newest. */
  async search(
    userId: string,
    q: string,
    conversation: Conversation | undefined,
    limit: number,
  ): Promise<StoredMessage[]> {
    const keys = conversation ? (await resolveConversation(this.store, userId, conversation)).keys : undefined;
    const words = searchWords(q);
    if (words.length === 0) return [];
    return this.store.search(userId, words, keys, limit);
  }
}
