import type { PresenceMessage, SendMessageInput, StoredMessage } from "../../shared/schemas.js";

/** A message this tab is still sending (or uploading the file of). */
export interface Outgoing {
  clientMsgId: string;
  input: SendMessageInput;
  createAt: number;
  status: "uploading" | "sending" | "waiting" | "failed";
  error?: string;
  /** Set while (or after) uploading a file. */
  upload?: { file: File; progress: number; previewUrl?: string };
}

/** An online/offline notice shown after the stored message that was newest when it came. */
export interface Notice {
  seq: number;
  after: number;
  notice: PresenceMessage;
}

let noticeSeq = 0;

/**
 * What one conversation shows: stored messages by id (no duplicates), live presence notices, and this
 * tab's outgoing messages at the end.
 */
export class Timeline {
  readonly stored: StoredMessage[] = [];
  readonly notices: Notice[] = [];
  readonly outgoing = new Map<string, Outgoing>();
  private readonly ids = new Set<number>();

  /**
   * Adds a stored message in id order, or replaces an older version of it (a higher `rev`: edited, deleted);
   * false when nothing changed. Settles the outgoing message it answers.
   */
  add(message: StoredMessage): boolean {
    if (message.clientMsgId !== undefined) this.outgoing.delete(message.clientMsgId);
    if (this.ids.has(message.id)) return this.update(message);
    this.ids.add(message.id);
    let index = this.stored.length;
    while (index > 0 && this.stored[index - 1]!.id > message.id) index -= 1;
    this.stored.splice(index, 0, message);
    return true;
  }

  /** Replaces the message with the same id when this version is newer; false otherwise. */
  update(message: StoredMessage): boolean {
    const index = this.stored.findIndex((m) => m.id === message.id);
    const current = this.stored[index];
    if (!current || (message.rev ?? message.id) <= (current.rev ?? current.id)) return false;
    this.stored[index] = message;
    return true;
  }

  /** Adds a presence notice at the current end. */
  addNotice(notice: PresenceMessage): void {
    this.notices.push({ seq: (noticeSeq += 1), after: this.newestId, notice });
    if (this.notices.length > 50) this.notices.shift();
  }

  /** The oldest stored message's id, where paging back continues. */
  get oldestId(): number | undefined {
    return this.stored[0]?.id;
  }

  /** The newest stored message's id (0 when none). */
  get newestId(): number {
    return this.stored.at(-1)?.id ?? 0;
  }
}
