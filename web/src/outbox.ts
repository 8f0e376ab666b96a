import { createClientMsgId, type ChatClient } from "../../client/index.js";
import type { SendMessageInput, StoredMessage } from "../../shared/schemas.js";
import type { ConversationKey, ConversationRef } from "./conversations.js";
import { rememberFileMeta, uploadFile } from "./files.js";
import type { Outgoing, Timeline } from "./timeline.js";
import { background } from "./background.js";

/** A conversation something can be sent to. */
export interface OutboxTarget {
  key: ConversationKey;
  ref: ConversationRef;
  timeline: Timeline;
}

/** What the outbox needs from the app. */
export interface OutboxDeps {
  client: ChatClient;
  token: () => string;
  /** Something changed that the message list shows. */
  changed: () => void;
  /** The server stored a message this tab sent. */
  sent: (target: OutboxTarget, message: StoredMessage) => void;
}

const PREVIEWABLE = /^image\/(png|jpeg|gif|webp)$/;

/**
 * This tab's outgoing messages: shown at once, sent with an idempotency key, kept while offline and sent
 * again (same key, so the server keeps one copy) when the connection is back; files are uploaded first.
 */
export class Outbox {
  constructor(private readonly deps: OutboxDeps) {}

  /** Sends a text message. */
  sendText(target: OutboxTarget, text: string, replyTo?: number): void {
    const body = replyTo === undefined ? { content: text } : { content: text, replyTo };
    const item = this.add(target, { mediaType: "text", ...body }, "sending");
    background(this.dispatch(target, item));
  }

  /** Uploads files (with progress), then sends each as an image or file message. */
  upload(target: OutboxTarget, files: File[]): void {
    for (const file of files) {
      const item = this.add(target, { mediaType: "file" }, "uploading");
      item.upload = {
        file,
        progress: 0,
        previewUrl: PREVIEWABLE.test(file.type) ? URL.createObjectURL(file) : undefined,
      };
      background(this.transfer(target, item));
    }
  }

  /** Sends what waited for the connection. */
  flush(targets: Iterable<OutboxTarget>): void {
    for (const target of targets) {
      for (const item of target.timeline.outgoing.values()) {
        if (item.status === "waiting") background(this.dispatch(target, item));
      }
    }
  }

  /** Tries a failed message (or upload) again. */
  retry(targets: Iterable<OutboxTarget>, clientMsgId: string): void {
    const found = this.find(targets, clientMsgId);
    if (!found) return;
    const [target, item] = found;
    item.error = undefined;
    if (item.upload && item.input.fileId === undefined) background(this.transfer(target, item));
    else background(this.dispatch(target, item));
  }

  /** Gives up on a failed message. */
  discard(targets: Iterable<OutboxTarget>, clientMsgId: string): void {
    const found = this.find(targets, clientMsgId);
    if (!found) return;
    const [target, item] = found;
    if (item.upload?.previewUrl) URL.revokeObjectURL(item.upload.previewUrl);
    target.timeline.outgoing.delete(clientMsgId);
    this.deps.changed();
  }

  private add(
    target: OutboxTarget,
    body: Pick<SendMessageInput, "mediaType" | "content" | "replyTo">,
    status: Outgoing["status"],
  ): Outgoing {
    const clientMsgId = createClientMsgId();
    const item: Outgoing = {
      clientMsgId,
      input: {
        messageType: target.ref.kind === "room" ? "group" : "single",
        to: target.ref.id,
        ...body,
        clientMsgId,
      },
      createAt: Date.now(),
      status,
    };
    target.timeline.outgoing.set(clientMsgId, item);
    this.deps.changed();
    return item;
  }

  private async transfer(target: OutboxTarget, item: Outgoing): Promise<void> {
    const upload = item.upload!;
    item.status = "uploading";
    upload.progress = 0;
    this.deps.changed();
    const result = await uploadFile(upload.file, this.deps.token(), (progress) => {
      upload.progress = progress;
      this.deps.changed();
    });
    if (!result.ok) {
      item.status = "failed";
      item.error = result.error.code === "PAYLOAD_TOO_LARGE" ? "the file is too large" : result.error.message;
      return this.deps.changed();
    }
    rememberFileMeta(result.data.url, { name: result.data.name, size: result.data.size });
    item.input = { ...item.input, mediaType: result.data.mediaType, fileId: result.data.fileId };
    await this.dispatch(target, item);
  }

  private async dispatch(target: OutboxTarget, item: Outgoing): Promise<void> {
    const { client } = this.deps;
    if (client.state !== "online") {
      item.status = "waiting";
      return this.deps.changed();
    }
    item.status = "sending";
    this.deps.changed();
    const result = await client.send(item.input);
    if (result.ok) {
      if (item.upload?.previewUrl) URL.revokeObjectURL(item.upload.previewUrl);
      target.timeline.add(result.data);
      this.deps.sent(target, result.data);
    } else if (result.error.code === "UNAVAILABLE" && client.state !== "online") {
      // Sent again, with the same clientMsgId, once the connection is back: the server keeps one copy.
      item.status = "waiting";
    } else {
      item.status = "failed";
      item.error = result.error.message;
    }
    this.deps.changed();
  }

  private find(targets: Iterable<OutboxTarget>, clientMsgId: string): [OutboxTarget, Outgoing] | undefined {
    for (const target of targets) {
      const item = target.timeline.outgoing.get(clientMsgId);
      if (item) return [target, item];
    }
    return undefined;
  }
}
