import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import type { ErrorCode, ErrorInfo, Result } from "../shared/errors.js";
import type {
  AckData,
  ClientEventName,
  ClientToServerEvents,
  ConnectErrorData,
  EventPayload,
  ServerNotice,
  ServerToClientEvents,
} from "../shared/events.js";
import type {
  AuditPage,
  RoomBansPage,
  ReadPositionsPage,
  RoomRemoved,
  RoomUpdateInput,
  Conversation,
  ConversationSummary,
  Message,
  PresenceMessage,
  PresenceStatus,
  Receipt,
  Revision,
  Room,
  RoomMemberChange,
  SendMessageInput,
  SessionInfo,
  StoredMessage,
  TypingNotice,
  User,
  UserSettings,
  UserUpdateInput,
} from "../shared/schemas.js";
import { TypedEmitter } from "./emitter.js";
import { SeenIds } from "./seen-ids.js";

/** What moderation requests answer. */
type Empty = Record<string, never>;

/** The typed Socket.IO client socket of the contract. */
export type ChatSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * Where the client stands: `connecting` before its first session, `online` once connected and caught up,
 * `reconnecting` after losing a connection it had, `offline` when it stopped trying (closed, refused token,
 * or reconnection attempts used up).
 */
export type ConnectionState = "connecting" | "online" | "reconnecting" | "offline";

/** An invitation to a private room. */
export interface RoomInvitation {
  room: Room;
  by: string;
}

/** What a catch-up after a (re)connect delivered. */
export interface SyncSummary {
  /** Messages and updates handed to listeners by this catch-up (missed ones and those that arrived during it). */
  delivered: number;
  /** The cursor after it: the newest message position (id, or rev on a server with message changes) seen. */
  cursor: number;
}

/** Events of a chat client. */
export type ChatClientEvents = {
  /** The connection state changed. */
  state: (state: ConnectionState) => void;
  /** The server sent a session (every connect and reconnect); catch-up starts right after. */
  session: (session: SessionInfo) => void;
  /** A stored message, exactly once, whether it came live or through catch-up; in order after a catch-up. */
  message: (message: StoredMessage) => void;
  /**
   * A newer version (higher `rev`) of a message created before: edited, deleted or reacted to, live or missed
   * while away; at most once per version. Only servers with message changes (contract v1.1) send these.
   */
  updated: (message: StoredMessage) => void;
  /**
   * Someone (or this user in another tab) moved a read position: the other members' `conversation:read`, live
   * only (contract v1.1). The conversation is named from this user's side.
   */
  receipt: (receipt: Receipt) => void;
  /** Another member started or stopped typing in a conversation, live only (contract v1.1). */
  typing: (notice: TypingNotice) => void;
  /** A live-only online/offline notice. */
  presence: (notice: PresenceMessage) => void;
  /** Someone invited this user to a private room (live hint; `room:list` has the pending ones). */
  invited: (invitation: RoomInvitation) => void;
  /** Membership or a role changed in one of this user's rooms (the subject's own sockets hear it too). */
  member: (change: RoomMemberChange) => void;
  /** A user followed with `subscribePresence` went online or offline. */
  status: (status: PresenceStatus) => void;
  /** A user followed with `subscribePresence`, or this user in another tab, changed name or avatar. */
  userUpdated: (user: User) => void;
  /** This user was kicked or banned from a room, or the room was deleted; it is no longer a member. */
  roomRemoved: (removed: RoomRemoved) => void;
  /** A room of this user's changed its name, topic or visibility. */
  roomUpdated: (room: Room) => void;
  /** The server is about to close the connection on purpose; the client reconnects by itself. */
  notice: (notice: ServerNotice) => void;
  /** A catch-up finished: everything missed while away has been delivered. */
  synced: (summary: SyncSummary) => void;
  /** A refused connection (`UNAUTHORIZED`, `RATE_LIMITED`, `UNAVAILABLE`) or a failed sync request. */
  error: (error: ErrorInfo) => void;
};

/** How to reach the server. */
export interface ChatClientOptions {
  /** The server's origin, e.g. `http://127.0.0.1:3000`. @default the page's origin (browsers only) */
  url?: string;
  /** The JWT, or a function giving the current one; asked again on every (re)connect. */
  token: string | (() => string | Promise<string>);
  /** How long a request waits for its answer. @default 10000 */
  timeoutMs?: number;
  /**
   * A cursor saved from an earlier client (`client.cursor`), to catch up from where it stopped.
   * @default none: the first session starts from `session.lastId`
   */
  cursor?: number;
  /** Messages per `sync` request while catching up. @default 500 */
  syncPageSize?: number;
  /** Connect at once. @default true */
  autoConnect?: boolean;
  /** Passed to `socket.io-client` (transports, reconnection delays…); `auth` and `autoConnect` are the client's own. */
  socket?: Partial<ManagerOptions & SocketOptions>;
  /**
   * With a `token` function: how long before the connected token's `exp` the client asks the function for a
   * newer token and hands it to the server (`auth:refresh`), so that the connection outlives the token.
   * @default 60000
   */
  refreshAheadMs?: number;
}

/** Options of one request. */
export interface RequestOptions {
  /** @default the client's `timeoutMs` */
  timeoutMs?: number;
}

const failure = (code: ErrorCode, message: string): { ok: false; error: ErrorInfo } => ({
  ok: false,
  error: { code, message },
});

const isResult = (value: unknown): value is Result<unknown> =>
  typeof value === "object" && value !== null && typeof (value as { ok?: unknown }).ok === "boolean";

const isStored = (message: Message): message is StoredMessage => "id" in message;

/** What the client knows of its credentials: see `watchAccount`. */
interface AccountState {
  provider: ChatClientOptions["token"];
  refreshAheadMs: number;
  /** The token of the current connection (as connected, or as refreshed). */
  token?: string;
  ended?: ServerNotice;
  refreshTimer?: ReturnType<typeof setTimeout>;
}

/** A JWT's `exp` (seconds), read without verifying it (the server verifies); undefined when it has none. */
function expiryOf(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { exp?: unknown };
    return typeof claims.exp === "number" ? claims.exp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where a message sits in `sync` order: its `rev` (ids and revs share one counter; a v1.1 server pages sync
 * by rev), or its id on a server without message changes.
 */
const positionOf = (message: StoredMessage): number => message.rev ?? message.id;

/** Requests whose answer is a message this client created or changed. */
const OWN_CHANGES: ReadonlySet<ClientEventName> = new Set([
  "message:send",
  "message:edit",
  "message:delete",
  "message:react",
]);

/**
 * A fresh idempotency key for `message:send`. Uses `getRandomValues`, which browsers offer on plain-HTTP
 * pages too (`randomUUID` needs a secure context).
 */
export function createClientMsgId(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * A typed chat client: requests answer `Result`s, and stored messages arrive exactly once and never go
 * missing across reconnects. See `createChatClient`.
 */
export class ChatClient extends TypedEmitter<ChatClientEvents> {
  /** The underlying typed socket, for what the client does not wrap. */
  readonly socket: ChatSocket;
  private readonly timeoutMs: number;
  private readonly syncPageSize: number;
  /** Ids of the messages handed to `message` listeners (and sent by this client). */
  private readonly seen = new SeenIds();
  /** Revs handed to `updated` listeners (and made by this client). */
  private readonly seenRevs = new SeenIds();
  private currentState: ConnectionState;
  private currentSession: SessionInfo | undefined;
  private newestId: number | undefined;
  /** True from a connect until its catch-up is done: live messages wait in `held` meanwhile. */
  private catchingUp = true;
  private held: StoredMessage[] = [];
  /** The idempotency key generated for each input object passed to `send`, for its retries. */
  private readonly draftKeys = new WeakMap<SendMessageInput, string>();
  /** Bumped on every session and disconnect, so a stale catch-up stops. */
  private generation = 0;
  private wasOnline = false;
  private closed = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  /** The token the current connection was opened or refreshed with, and the session-ending notice if any. */
  private readonly account: AccountState;

  constructor(options: ChatClientOptions) {
    super();
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.syncPageSize = options.syncPageSize ?? 500;
    this.newestId = options.cursor;
    const autoConnect = options.autoConnect ?? true;
    const token = options.token;
    this.account = { provider: token, refreshAheadMs: options.refreshAheadMs ?? 60_000 };
    const socketOptions: Partial<ManagerOptions & SocketOptions> = {
      ...options.socket,
      autoConnect: false,
      auth: (callback) => {
        Promise.resolve(typeof token === "function" ? token() : token).then(
          (value) => {
            this.account.token = value;
            callback({ token: value });
          },
          () => callback({}),
        );
      },
    };
    this.socket = options.url === undefined ? io(socketOptions) : io(options.url, socketOptions);
    this.currentState = autoConnect ? "connecting" : "offline";
    // Before bind(): the client has settled a notice before its `notice` listeners hear it.
    this.watchAccount();
    this.bind();
    if (autoConnect) this.socket.connect();
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The latest session, once connected. */
  get session(): SessionInfo | undefined {
    return this.currentSession;
  }

  /** The signed-in user, once connected. */
  get user(): User | undefined {
    return this.currentSession?.user;
  }

  /**
   * The newest message position (id, or rev on a v1.1 server) this client has seen; save it to resume a later
   * client with `options.cursor`.
   */
  get cursor(): number | undefined {
    return this.newestId;
  }

  /** Connects again after `close()`, a refused token or used-up reconnection attempts (or with `autoConnect: false`). */
  connect(): void {
    this.closed = false;
    // Safe while a connection attempt is under way: Socket.IO does not open a second one.
    if (this.socket.connected) return;
    this.setState(this.wasOnline ? "reconnecting" : "connecting");
    this.socket.connect();
  }

  /** Disconnects and stops reconnecting; state becomes `offline`. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket.disconnect();
    this.setState("offline");
  }

  /** Resolves once the client is online and caught up; rejects if it goes offline first. */
  whenOnline(): Promise<void> {
    if (this.currentState === "online") return Promise.resolve();
    return new Promise((resolve, reject) => {
      const off = this.on("state", (state) => {
        if (state === "online") {
          off();
          resolve();
        } else if (state === "offline") {
          off();
          reject(new Error("the chat client went offline"));
        }
      });
    });
  }

  /**
   * The notice with which the server ended this user's session for good (`signed-out`: the token was revoked;
   * `disabled`: the account was), or undefined. After one the client stays offline instead of reconnecting,
   * until `connect()` is called again (with a token that counts, from the `token` function).
   */
  get ended(): ServerNotice | undefined {
    return this.account.ended;
  }

  /**
   * Hands the connected socket a newer token of this user (`auth:refresh`), so that it is not disconnected
   * when its current token expires; answers the new token's `exp` (seconds). With a `token` function the
   * client does this by itself shortly before expiry (see `refreshAheadMs`).
   */
  async refreshToken(token: string, options?: RequestOptions): Promise<Result<{ exp: number }>> {
    const result = await this.request("auth:refresh", { token }, options);
    if (result.ok) {
      this.account.token = token;
      this.scheduleRefresh(result.data.exp);
    }
    return result;
  }

  /**
   * Sends one request of the contract and resolves its `Result`. Never rejects: when not connected, or
   * when no answer comes within the timeout, it resolves `{ ok: false, error: { code: "UNAVAILABLE" } }`.
   * Requests are not queued while offline, so a retried request cannot also be sent late.
   * @example
   * const rooms = await client.request("room:list", {});
   * if (rooms.ok) console.log(rooms.data.joined);
   */
  async request<E extends ClientEventName>(
    event: E,
    payload: EventPayload<E>,
    options: RequestOptions = {},
  ): Promise<Result<AckData<E>>> {
    if (!this.socket.connected) return failure("UNAVAILABLE", "not connected to the chat server");
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const timed = this.socket.timeout(timeoutMs);
    // emitWithAck is typed `any` on a timeout socket; the contract says what comes back.
    const emit = timed.emitWithAck as (event: E, payload: EventPayload<E>) => Promise<unknown>;
    let answer: unknown;
    try {
      answer = await emit.call(timed, event, payload);
    } catch {
      return failure("UNAVAILABLE", `no answer to ${event} within ${timeoutMs} ms`);
    }
    if (!isResult(answer)) return failure("INTERNAL", `malformed answer to ${event}`);
    const result = answer as Result<AckData<E>>;
    // The server does not echo a message, or a change, to the socket that made it: a later sync must not
    // replay it either.
    if (result.ok && OWN_CHANGES.has(event)) {
      const message = result.data as StoredMessage;
      if (event === "message:send") this.seen.add(message.id);
      this.seenRevs.add(positionOf(message));
    }
    return result;
  }

  /**
   * Sends a message with an idempotency key, so a retry cannot duplicate it: the key is the input's
   * `clientMsgId`, or one generated on the first call with this input object and reused when the same
   * object is sent again (retry with the same object after a timeout or a disconnect).
   * @example
   * const draft = { messageType: "group", mediaType: "text", to: "lobby", content: "hi" } as const;
   * let sent = await client.send(draft);
   * if (!sent.ok && sent.error.code === "UNAVAILABLE") sent = await client.send(draft); // stored once
   */
  send(input: SendMessageInput, options?: RequestOptions): Promise<Result<StoredMessage>> {
    let clientMsgId = input.clientMsgId ?? this.draftKeys.get(input);
    if (clientMsgId === undefined) this.draftKeys.set(input, (clientMsgId = createClientMsgId()));
    return this.request("message:send", { ...input, clientMsgId }, options);
  }

  // ── conversation state (contract v1.1) ─────────────────────────────────────────────────────────────

  /** The caller's rooms and direct conversations with unread counts and read positions, newest activity first. */
  listConversations(options?: RequestOptions): Promise<Result<ConversationSummary[]>> {
    return this.request("conversation:list", {}, options);
  }

  /** Moves the caller's read position in a conversation forward (never back); answers the unread count left. */
  markRead(
    conversation: Conversation,
    lastReadId: number,
    options?: RequestOptions,
  ): Promise<Result<{ unread: number }>> {
    return this.request("conversation:read", { conversation, lastReadId }, options);
  }

  /**
   * Where the people of a conversation have read up to (a room's members, or the two of a direct
   * conversation), by user id in pages (`after`: the last user id of the page before); those who turned read
   * receipts off are left out. Live changes come as `receipt` events.
   */
  conversationReads(
    conversation: Conversation,
    page: { after?: string; limit?: number } = {},
    options?: RequestOptions,
  ): Promise<Result<ReadPositionsPage>> {
    return this.request("conversation:reads", { conversation, ...page }, options);
  }

  /** Tells the other members this user started or stopped typing (the server throttles starts). */
  setTyping(
    conversation: Conversation,
    state: "start" | "stop",
    options?: RequestOptions,
  ): Promise<Result<Record<string, never>>> {
    return this.request("typing", { conversation, state }, options);
  }

  /** Edits the text of one of this user's messages; answers the new version (never echoed as `updated`). */
  edit(id: number, content: string, options?: RequestOptions): Promise<Result<StoredMessage>> {
    return this.request("message:edit", { id, content }, options);
  }

  /** Deletes one of this user's messages; answers the tombstone (never echoed as `updated`). */
  deleteMessage(id: number, options?: RequestOptions): Promise<Result<StoredMessage>> {
    return this.request("message:delete", { id }, options);
  }

  /** The earlier texts of an edited message, oldest first. */
  revisions(id: number, options?: RequestOptions): Promise<Result<Revision[]>> {
    return this.request("message:revisions", { id }, options);
  }

  /** Adds (`on: true`) or removes this user's reaction; idempotent; answers the message. */
  react(id: number, emoji: string, on: boolean, options?: RequestOptions): Promise<Result<StoredMessage>> {
    return this.request("message:react", { id, emoji, on }, options);
  }

  /** Full-text search of what the caller may see, best match first; optionally in one conversation. */
  search(
    q: string,
    filter: { conversation?: Conversation; limit?: number } = {},
    options?: RequestOptions,
  ): Promise<Result<{ messages: StoredMessage[] }>> {
    return this.request("history:search", { q, ...filter }, options);
  }

  /** Who of `userIds` is online, and when the offline ones were last seen. */
  queryPresence(userIds: string[], options?: RequestOptions): Promise<Result<PresenceStatus[]>> {
    return this.request("presence:query", { userIds }, options);
  }

  /** Drops this user's pending invitation to a private room. */
  declineInvitation(roomId: string, options?: RequestOptions): Promise<Result<{ roomId: string }>> {
    return this.request("room:decline", { roomId }, options);
  }

  /**
   * Follows these users' presence from now on (replacing the previous list; at most 500): answers their
   * status now, then `status` events when they go online or offline. Call again after a reconnect.
   */
  subscribePresence(userIds: string[], options?: RequestOptions): Promise<Result<PresenceStatus[]>> {
    return this.request("presence:subscribe", { userIds }, options);
  }

  /**
   * Changes this user's name, avatar (`avatarFileId`: an image this user uploaded, or `null` to remove it) or
   * read-receipt setting; `{}` answers the current values.
   */
  updateUser(input: UserUpdateInput = {}, options?: RequestOptions): Promise<Result<UserSettings>> {
    return this.request("user:update", input, options);
  }

  // Room roles and moderation (contract section 11): each answers `{}` unless said; FORBIDDEN when this user's
  // role does not allow it.

  /** The room's owner (or an admin) makes a member a moderator, or a moderator a member. */
  setRole(
    roomId: string,
    userId: string,
    role: "moderator" | "member",
    options?: RequestOptions,
  ): Promise<Result<Empty>> {
    return this.request("room:role", { roomId, userId, role }, options);
  }

  /** Removes a member from a room (it gets `roomRemoved`; it may join a public room again). */
  kick(roomId: string, userId: string, reason?: string, options?: RequestOptions): Promise<Result<Empty>> {
    return this.request("room:kick", { roomId, userId, ...(reason === undefined ? {} : { reason }) }, options);
  }

  /** Bans a user from a room until `until` (ms since the epoch; for good without it), removing it if a member. */
  ban(
    roomId: string,
    userId: string,
    ban: { until?: number; reason?: string } = {},
    options?: RequestOptions,
  ): Promise<Result<Empty>> {
    return this.request("room:ban", { roomId, userId, ...ban }, options);
  }

  /** Lifts a ban (NOT_FOUND when none is in force). */
  unban(roomId: string, userId: string, options?: RequestOptions): Promise<Result<Empty>> {
    return this.request("room:unban", { roomId, userId }, options);
  }

  /** Mutes a member until `until` (ms since the epoch): its sends to the room are FORBIDDEN meanwhile. */
  mute(
    roomId: string,
    userId: string,
    until: number,
    reason?: string,
    options?: RequestOptions,
  ): Promise<Result<Empty>> {
    return this.request("room:mute", { roomId, userId, until, ...(reason === undefined ? {} : { reason }) }, options);
  }

  /** Lifts a mute (NOT_FOUND when none is in force). */
  unmute(roomId: string, userId: string, options?: RequestOptions): Promise<Result<Empty>> {
    return this.request("room:unmute", { roomId, userId }, options);
  }

  /** Changes a room's name, topic (`""` removes it) or visibility; answers the room (members get `roomUpdated`). */
  updateRoom(
    roomId: string,
    changes: Omit<RoomUpdateInput, "roomId">,
    options?: RequestOptions,
  ): Promise<Result<Room>> {
    return this.request("room:update", { roomId, ...changes }, options);
  }

  /** Deletes a room and its history for everyone (every member gets `roomRemoved` with kind `deleted`). */
  deleteRoom(roomId: string, options?: RequestOptions): Promise<Result<Empty>> {
    return this.request("room:delete", { roomId }, options);
  }

  /** A page of a room's audit log, newest first (`before`: an entry id), for its owner, moderators and admins. */
  roomAudit(
    roomId: string,
    page: { before?: number; limit?: number } = {},
    options?: RequestOptions,
  ): Promise<Result<AuditPage>> {
    return this.request("room:audit", { roomId, ...page }, options);
  }

  /**
   * A page of the bans in force in a room, by user id (`after`: the last user id of the page before), for its
   * owner, moderators and admins. Lift one with `unban`.
   */
  roomBans(
    roomId: string,
    page: { after?: string; limit?: number } = {},
    options?: RequestOptions,
  ): Promise<Result<RoomBansPage>> {
    return this.request("room:bans", { roomId, ...page }, options);
  }

  private bind(): void {
    const socket = this.socket;
    socket.on("session", (session) => {
      this.catchUp(session).catch((error: unknown) =>
        this.emit("error", { code: "INTERNAL", message: `catch-up failed: ${String(error)}` }),
      );
    });
    socket.on("message", (message) => {
      if (!isStored(message)) this.emit("presence", message);
      else this.arrived(message);
    });
    socket.on("message:updated", (message) => this.arrived(message));
    socket.on("receipt", (receipt) => this.emit("receipt", receipt));
    socket.on("typing", (notice) => this.emit("typing", notice));
    socket.on("room:invited", (invitation) => this.emit("invited", invitation));
    socket.on("room:member", (change) => this.emit("member", change));
    socket.on("presence", (status) => this.emit("status", status));
    socket.on("user:updated", (user) => this.emit("userUpdated", user));
    socket.on("server:notice", (notice) => this.emit("notice", notice));
    socket.on("room:removed", (removed) => this.emit("roomRemoved", removed));
    socket.on("room:updated", (room) => this.emit("roomUpdated", room));
    socket.on("disconnect", (reason) => {
      this.generation += 1;
      this.catchingUp = true;
      this.held = [];
      if (reason === "io client disconnect" || this.closed) {
        this.setState("offline");
        return;
      }
      this.setState(this.wasOnline ? "reconnecting" : "connecting");
      // Socket.IO does not reconnect after a server-side disconnect (the server does it on shutdown).
      if (reason === "io server disconnect") this.retryLater();
    });
    socket.on("connect_error", (error: Error & { data?: Partial<ConnectErrorData> }) => {
      const code = error.data?.code;
      if (code !== undefined) this.emit("error", { code, message: error.message });
      if (code === "UNAUTHORIZED" || code === "FORBIDDEN") {
        // A refused token (or a disabled account) will not get better by retrying.
        this.closed = true;
        this.setState("offline");
      } else if (!socket.active) {
        // Refused by the server's middleware (rate limit, shutting down): Socket.IO leaves retrying to us.
        this.retryLater();
      }
      // Otherwise a transport error: the manager retries with its own backoff.
    });
    socket.io.on("reconnect_failed", () => this.setState("offline"));
  }

  /**
   * Session endings (docs/protocol.md, `server:notice`): after `signed-out` or `disabled` the client does not
   * reconnect (it would be refused, again and again); `token-expired` and `kicked` reconnect as usual (a
   * `token` function may give a fresh token). Schedules the refresh before expiry on every connect.
   */
  private watchAccount(): void {
    const socket = this.socket;
    socket.on("server:notice", (notice) => {
      if (notice.reason !== "signed-out" && notice.reason !== "disabled") return;
      this.account.ended = notice;
      this.closed = true;
      clearTimeout(this.retryTimer);
    });
    socket.on("connect", () => {
      this.account.ended = undefined;
      const exp = this.account.token === undefined ? undefined : expiryOf(this.account.token);
      if (exp !== undefined) this.scheduleRefresh(exp);
    });
    socket.on("disconnect", () => clearTimeout(this.account.refreshTimer));
  }

  /** With a `token` function: asks it for a newer token `refreshAheadMs` before `exp` and refreshes with it. */
  private scheduleRefresh(exp: number): void {
    const { provider, refreshAheadMs } = this.account;
    clearTimeout(this.account.refreshTimer);
    if (typeof provider !== "function") return;
    const left = exp * 1000 - Date.now();
    // setTimeout fires at once beyond 2^31-1 ms (about 24.8 days): wake up then and look again.
    const delay = Math.min(Math.max(0, left - refreshAheadMs), 2 ** 31 - 1);
    this.account.refreshTimer = setTimeout(() => {
      if (!this.socket.connected) return;
      if (delay < left - refreshAheadMs) return this.scheduleRefresh(exp);
      Promise.resolve(provider())
        .then(async (token) => {
          const next = expiryOf(token);
          if (token !== this.account.token && next !== undefined && next >= exp) {
            const refreshed = await this.refreshToken(token);
            if (refreshed.ok) return;
          }
          // No newer token yet: ask again halfway to the expiry (the server ends the socket at `exp`).
          const remaining = exp * 1000 - Date.now();
          if (remaining > 2000) {
            this.account.refreshTimer = setTimeout(() => this.scheduleRefresh(exp), remaining / 2);
          }
        })
        .catch(() => undefined);
    }, delay);
  }

  private async catchUp(session: SessionInfo): Promise<void> {
    const generation = ++this.generation;
    this.currentSession = session;
    // No cursor yet: lastId was computed before this socket could receive anything, so start there.
    // A cursor beyond lastId means the server's store was reset (or the newest messages seen are no longer
    // visible): ids restart, so what was seen says nothing any more.
    if (this.newestId === undefined || this.newestId > session.lastId) {
      if (this.newestId !== undefined) {
        this.seen.clear();
        this.seenRevs.clear();
      }
      this.newestId = session.lastId;
    }
    this.emit("session", session);
    let delivered = 0;
    const start = this.newestId;
    let after = start;
    let failures = 0;
    for (;;) {
      // Even a first session syncs after lastId: it closes the gap between computing lastId and joining rooms.
      const page = await this.request("sync", { after, limit: this.syncPageSize });
      if (generation !== this.generation) return;
      if (!page.ok) {
        this.emit("error", page.error);
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * 2 ** failures)));
        if (generation !== this.generation) return;
        continue;
      }
      failures = 0;
      for (const message of page.data.messages) if (this.deliver(message, start)) delivered += 1;
      const last = page.data.messages.at(-1);
      if (!page.data.hasMore || last === undefined) break;
      after = positionOf(last);
    }
    this.catchingUp = false;
    const held = this.held.sort((a, b) => positionOf(a) - positionOf(b));
    this.held = [];
    for (const message of held) if (this.deliver(message, start)) delivered += 1;
    this.wasOnline = true;
    this.retries = 0;
    this.setState("online");
    this.emit("synced", { delivered, cursor: this.newestId });
  }

  /** A live message or update: held while catching up (to keep the order), handed on otherwise. */
  private arrived(message: StoredMessage): void {
    if (this.catchingUp) this.held.push(message);
    else this.deliver(message, this.newestId ?? 0);
  }

  /**
   * Hands a stored message to listeners unless it was seen; true when it was new. A message that changed
   * since it was created is an update when its creation was seen, or predates `start` (the cursor the
   * current session started from); otherwise it is news, shown in its current state.
   */
  private deliver(message: StoredMessage, start: number): boolean {
    const position = positionOf(message);
    this.newestId = Math.max(this.newestId ?? 0, position);
    const changed = position > message.id;
    if (changed && (this.seen.has(message.id) || message.id <= start)) {
      if (!this.seenRevs.add(position)) return false;
      this.seen.add(message.id);
      this.emit("updated", message);
      return true;
    }
    this.seenRevs.add(position);
    if (!this.seen.add(message.id)) return false;
    this.emit("message", message);
    return true;
  }

  private retryLater(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    const base = this.socket.io.reconnectionDelay();
    const max = this.socket.io.reconnectionDelayMax();
    const delay = Math.min(max, base * 2 ** this.retries) * (0.5 + Math.random() / 2);
    this.retries += 1;
    this.retryTimer = setTimeout(() => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit("state", state);
  }
}

/**
 * Creates a chat client for Node or the browser: typed requests that resolve `Result`s with a timeout,
 * connection state, and every stored message exactly once, in order, across reconnects.
 * @example
 * const client = createChatClient({ url: "http://127.0.0.1:3000", token });
 * client.on("message", (message) => render(message));
 * await client.whenOnline();
 * await client.send({ messageType: "group", mediaType: "text", to: "lobby", content: "hi" });
 */
export function createChatClient(options: ChatClientOptions): ChatClient {
  return new ChatClient(options);
}
