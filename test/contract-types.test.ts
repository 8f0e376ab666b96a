import type { Socket } from "socket.io-client";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { ErrorCode, ErrorInfo, Result } from "../shared/errors.js";
import type {
  Ack,
  AckData,
  ClientEventName,
  ClientToServerEvents,
  EventPayload,
  ServerToClientEvents,
} from "../shared/events.js";
import {
  historyListSchema,
  type AuditEntry,
  MAX_CONTENT_LENGTH,
  sendMessageSchema,
  syncSchema,
  type HistoryListInput,
  type Message,
  type MessagePage,
  type PresenceMessage,
  type Room,
  type RoomMember,
  type SendMessageInput,
  type SessionInfo,
  type StoredMessage,
  type SyncInput,
} from "../shared/schemas.js";

/*
 * The type-level assertions here are checked by the compiler (`npm run typecheck` includes test/); at run
 * time expectTypeOf does nothing. The runtime assertions below cover the zod schemas.
 */

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

describe("shared event map types", () => {
  it("infers each client event's ack data type from the event map", () => {
    expectTypeOf<AckData<"message:send">>().toEqualTypeOf<StoredMessage>();
    expectTypeOf<AckData<"history:list">>().toEqualTypeOf<MessagePage>();
    expectTypeOf<AckData<"sync">>().toEqualTypeOf<MessagePage>();
    expectTypeOf<AckData<"room:create">>().toEqualTypeOf<Room>();
    expectTypeOf<AckData<"room:join">>().toEqualTypeOf<Room>();
    expectTypeOf<AckData<"room:leave">>().toEqualTypeOf<{ roomId: string }>();
    expectTypeOf<AckData<"room:list">>().toEqualTypeOf<{
      joined: Room[];
      discoverable: Room[];
      invited: { room: Room; by: string; at: number }[];
    }>();
    expectTypeOf<AckData<"room:members">>().toEqualTypeOf<{ members: RoomMember[]; hasMore: boolean }>();
    expectTypeOf<MessagePage>().toEqualTypeOf<{ messages: StoredMessage[]; hasMore: boolean }>();
    expectTypeOf<AckData<"room:update">>().toEqualTypeOf<Room>();
    expectTypeOf<AckData<"room:kick">>().toEqualTypeOf<Record<string, never>>();
    expectTypeOf<AckData<"room:audit">["entries"][number]>().toEqualTypeOf<AuditEntry>();
    expectTypeOf<Parameters<ServerToClientEvents["room:removed"]>[0]["kind"]>().toEqualTypeOf<
      "kick" | "ban" | "deleted"
    >();
  });

  it("infers each client event's payload type from the event map", () => {
    expectTypeOf<EventPayload<"message:send">>().toEqualTypeOf<SendMessageInput>();
    expectTypeOf<EventPayload<"history:list">>().toEqualTypeOf<HistoryListInput>();
    expectTypeOf<EventPayload<"sync">>().toEqualTypeOf<SyncInput>();
    expectTypeOf<EventPayload<"room:join">>().toEqualTypeOf<{ roomId: string }>();
    // Optional with a default: a client may leave `limit` out.
    expectTypeOf<{ after: number }>().toExtend<EventPayload<"sync">>();
    expectTypeOf<{ room: string }>().toExtend<EventPayload<"history:list">>();
    // The sender cannot be chosen by the client: `from` is not part of the payload.
    expectTypeOf<EventPayload<"message:send">>().not.toHaveProperty("from");
    expectTypeOf<EventPayload<"message:send">>().not.toHaveProperty("id");
    expectTypeOf<EventPayload<"message:send">["messageType"]>().toEqualTypeOf<"single" | "group">();
  });

  it("names exactly the client events of the contract", () => {
    expectTypeOf<ClientEventName>().toEqualTypeOf<
      | "message:send"
      | "history:list"
      | "sync"
      | "room:create"
      | "room:join"
      | "room:leave"
      | "room:invite"
      | "room:list"
      | "room:decline"
      | "room:members"
      | "conversation:list"
      | "conversation:read"
      | "conversation:reads"
      | "typing"
      | "message:edit"
      | "message:delete"
      | "message:revisions"
      | "message:react"
      | "history:search"
      | "presence:query"
      | "presence:subscribe"
      | "user:update"
      | "auth:refresh"
      | "room:role"
      | "room:kick"
      | "room:ban"
      | "room:unban"
      | "room:mute"
      | "room:unmute"
      | "room:update"
      | "room:delete"
      | "room:audit"
      | "room:bans"
    >();
  });

  it("types the server's session and message events", () => {
    expectTypeOf<Parameters<ServerToClientEvents["session"]>[0]>().toEqualTypeOf<SessionInfo>();
    expectTypeOf<Parameters<ServerToClientEvents["message"]>[0]>().toEqualTypeOf<Message>();
    expectTypeOf<StoredMessage["messageType"]>().toEqualTypeOf<"single" | "group" | "system">();
    expectTypeOf<Extract<Message, { messageType: "online" | "offline" }>>().toEqualTypeOf<PresenceMessage>();
    expectTypeOf<PresenceMessage>().not.toHaveProperty("id");
  });

  it("lets a typed client emit contract events with their payloads and typed acks, and nothing else", () => {
    // Compiled, never run: the compiler is the assertion.
    function _typedEmits(socket: ClientSocket): void {
      socket.emit("message:send", { messageType: "group", mediaType: "text", to: "lobby", content: "hi" }, (result) => {
        expectTypeOf(result).toEqualTypeOf<Result<StoredMessage>>();
      });
      socket.emit("sync", { after: 0 }, (result) => {
        expectTypeOf(result).toEqualTypeOf<Result<MessagePage>>();
      });
      socket.on("message", (message) => {
        expectTypeOf(message).toEqualTypeOf<Message>();
      });
      // @ts-expect-error "nope" is not an event of the contract
      socket.emit("nope", {}, () => undefined);
      // @ts-expect-error a message is single or group; a client cannot send a system message
      socket.emit("message:send", { messageType: "system", mediaType: "text", to: "*", content: "x" }, () => {});
      // @ts-expect-error history:list needs its payload
      socket.emit("history:list", (_result: unknown) => {});
      // @ts-expect-error the server does not listen for a server event
      socket.emit("session", {} as SessionInfo);
      // @ts-expect-error the client does not receive an event the server never sends
      socket.on("nope", () => {});
    }
    expectTypeOf(_typedEmits).toBeFunction();
    expectTypeOf<Parameters<ClientToServerEvents["message:send"]>[1]>().toEqualTypeOf<Ack<StoredMessage>>();
  });

  it("narrows a Result on ok", () => {
    const check = (result: Result<number>): string => {
      if (result.ok) {
        expectTypeOf(result.data).toEqualTypeOf<number>();
        expectTypeOf(result).not.toHaveProperty("error");
        return `data ${result.data}`;
      }
      expectTypeOf(result.error).toEqualTypeOf<ErrorInfo>();
      expectTypeOf(result.error.code).toEqualTypeOf<ErrorCode>();
      expectTypeOf(result).not.toHaveProperty("data");
      return `error ${result.error.code}`;
    };
    expect(check({ ok: true, data: 7 })).toBe("data 7");
    expect(check({ ok: false, error: { code: "NOT_FOUND", message: "gone" } })).toBe("error NOT_FOUND");
    expectTypeOf<"PAYLOAD_TOO_LARGE">().toExtend<ErrorCode>();
    expectTypeOf<"TEAPOT">().not.toExtend<ErrorCode>();
  });
});

describe("sendMessageSchema", () => {
  const valid = { messageType: "group", mediaType: "text", to: "lobby", content: "hi" };

  it("drops keys the contract does not name, __proto__ included", () => {
    const payload: unknown = JSON.parse(
      '{"messageType":"single","mediaType":"text","to":"bob","content":"hi","from":"mallory","id":42,' +
        '"createAt":1,"url":"https://evil.example","__proto__":{"polluted":true}}',
    );
    // JSON.parse makes __proto__ an own key, as a socket.io payload would have it.
    expect(Object.keys(payload as object)).toContain("__proto__");
    const parsed = sendMessageSchema.parse(payload);
    expect(parsed).toEqual({ messageType: "single", mediaType: "text", to: "bob", content: "hi" });
    expect(Object.keys(parsed).sort()).toEqual(["content", "mediaType", "messageType", "to"]);
    expect(Object.hasOwn(parsed, "__proto__")).toBe(false);
    expect((parsed as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("accepts a text message with 1 to 4000 characters of content", () => {
    expect(sendMessageSchema.safeParse(valid).success).toBe(true);
    expect(sendMessageSchema.safeParse({ ...valid, content: "x" }).success).toBe(true);
    expect(sendMessageSchema.safeParse({ ...valid, content: "x".repeat(MAX_CONTENT_LENGTH) }).success).toBe(true);
    expect(MAX_CONTENT_LENGTH).toBe(4000);
  });

  it("refuses a text message without content, with empty content, or over 4000 characters", () => {
    const { content: _content, ...noContent } = valid;
    expect(sendMessageSchema.safeParse(noContent).success).toBe(false);
    expect(sendMessageSchema.safeParse({ ...valid, content: "" }).success).toBe(false);
    expect(sendMessageSchema.safeParse({ ...valid, content: "x".repeat(4001) }).success).toBe(false);
  });

  it("refuses a text message with a fileId, and an image or file message without one", () => {
    expect(sendMessageSchema.safeParse({ ...valid, fileId: "f" }).success).toBe(false);
    expect(sendMessageSchema.safeParse({ ...valid, mediaType: "image" }).success).toBe(false);
    expect(sendMessageSchema.safeParse({ ...valid, mediaType: "file" }).success).toBe(false);
    expect(sendMessageSchema.safeParse({ ...valid, mediaType: "image", fileId: "f" }).success).toBe(true);
    expect(
      sendMessageSchema.safeParse({ messageType: "single", mediaType: "file", to: "b", fileId: "f" }).success,
    ).toBe(true);
  });

  it("refuses message types a client may not send and a clientMsgId over 64 characters", () => {
    expect(sendMessageSchema.safeParse({ ...valid, messageType: "system" }).success).toBe(false);
    expect(sendMessageSchema.safeParse({ ...valid, messageType: "online" }).success).toBe(false);
    expect(sendMessageSchema.safeParse({ ...valid, clientMsgId: "k".repeat(64) }).success).toBe(true);
    expect(sendMessageSchema.safeParse({ ...valid, clientMsgId: "k".repeat(65) }).success).toBe(false);
    expect(sendMessageSchema.safeParse({ ...valid, clientMsgId: "" }).success).toBe(false);
  });
});

describe("historyListSchema", () => {
  it("defaults limit to 50", () => {
    expect(historyListSchema.parse({ room: "lobby" })).toEqual({ room: "lobby", limit: 50 });
    expect(historyListSchema.parse({ user: "bob", before: 10 })).toEqual({ user: "bob", before: 10, limit: 50 });
  });

  it("refuses both room and user, and neither", () => {
    expect(historyListSchema.safeParse({ room: "lobby", user: "bob" }).success).toBe(false);
    expect(historyListSchema.safeParse({}).success).toBe(false);
  });

  it("refuses both before and after", () => {
    expect(historyListSchema.safeParse({ room: "lobby", before: 5, after: 1 }).success).toBe(false);
    expect(historyListSchema.safeParse({ room: "lobby", after: 1 }).success).toBe(true);
  });

  it("takes limits 1 to 100 and refuses 0, 101 and fractions", () => {
    expect(historyListSchema.safeParse({ room: "lobby", limit: 0 }).success).toBe(false);
    expect(historyListSchema.safeParse({ room: "lobby", limit: 101 }).success).toBe(false);
    expect(historyListSchema.safeParse({ room: "lobby", limit: 1.5 }).success).toBe(false);
    expect(historyListSchema.parse({ room: "lobby", limit: 1 }).limit).toBe(1);
    expect(historyListSchema.parse({ room: "lobby", limit: 100 }).limit).toBe(100);
  });

  it("refuses a negative cursor", () => {
    expect(historyListSchema.safeParse({ room: "lobby", before: -1 }).success).toBe(false);
  });
});

describe("syncSchema", () => {
  it("defaults limit to 500 and takes 1 to 500", () => {
    expect(syncSchema.parse({ after: 0 })).toEqual({ after: 0, limit: 500 });
    expect(syncSchema.parse({ after: 3, limit: 1 })).toEqual({ after: 3, limit: 1 });
    expect(syncSchema.safeParse({ after: 0, limit: 0 }).success).toBe(false);
    expect(syncSchema.safeParse({ after: 0, limit: 501 }).success).toBe(false);
  });

  it("needs a non-negative integer after", () => {
    expect(syncSchema.safeParse({}).success).toBe(false);
    expect(syncSchema.safeParse({ after: -1 }).success).toBe(false);
    expect(syncSchema.safeParse({ after: "0" }).success).toBe(false);
  });
});
