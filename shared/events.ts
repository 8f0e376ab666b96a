import type { ErrorCode, Result } from "./errors.js";
import type {
  ConversationReadInput,
  ConversationReadsInput,
  ConversationSummary,
  HistoryListInput,
  HistorySearchInput,
  MessageEditInput,
  MessageReactInput,
  MessageRefInput,
  PresenceQueryInput,
  PresenceSubscribeInput,
  PresenceStatus,
  Receipt,
  Revision,
  TypingInput,
  TypingNotice,
  UserSettings,
  UserUpdateInput,
  AuthRefreshInput,
  Message,
  MessagePage,
  ReadPositionsPage,
  Room,
  RoomCreateInput,
  RoomInvite,
  RoomLists,
  RoomMemberChange,
  RoomMember,
  RoomMembersInput,
  RoomRef,
  SendMessageInput,
  SessionInfo,
  StoredMessage,
  SyncInput,
  User,
  AuditPage,
  RoomAuditInput,
  RoomBansInput,
  RoomBansPage,
  RoomBanInput,
  RoomKickInput,
  RoomMuteInput,
  RoomRemoved,
  RoomRoleInput,
  RoomTargetInput,
  RoomUpdateInput,
} from "./schemas.js";

/** The callback every client request passes last. */
export type Ack<T> = (result: Result<T>) => void;

/** Events a client may emit; each answers a `Result` through its ack. */
export interface ClientToServerEvents {
  "message:send": (payload: SendMessageInput, ack: Ack<StoredMessage>) => void;
  "history:list": (payload: HistoryListInput, ack: Ack<MessagePage>) => void;
  sync: (payload: SyncInput, ack: Ack<MessagePage>) => void;
  "room:create": (payload: RoomCreateInput, ack: Ack<Room>) => void;
  "room:join": (payload: RoomRef, ack: Ack<Room>) => void;
  "room:leave": (payload: RoomRef, ack: Ack<{ roomId: string }>) => void;
  "room:invite": (payload: RoomInvite, ack: Ack<RoomInvite>) => void;
  "room:list": (payload: Record<string, never>, ack: Ack<RoomLists>) => void;
  "room:decline": (payload: RoomRef, ack: Ack<{ roomId: string }>) => void;
  "room:members": (payload: RoomMembersInput, ack: Ack<{ members: RoomMember[]; hasMore: boolean }>) => void;
  "conversation:list": (payload: Record<string, never>, ack: Ack<ConversationSummary[]>) => void;
  "conversation:read": (payload: ConversationReadInput, ack: Ack<{ unread: number }>) => void;
  "conversation:reads": (payload: ConversationReadsInput, ack: Ack<ReadPositionsPage>) => void;
  typing: (payload: TypingInput, ack: Ack<Record<string, never>>) => void;
  "message:edit": (payload: MessageEditInput, ack: Ack<StoredMessage>) => void;
  "message:delete": (payload: MessageRefInput, ack: Ack<StoredMessage>) => void;
  "message:revisions": (payload: MessageRefInput, ack: Ack<Revision[]>) => void;
  "message:react": (payload: MessageReactInput, ack: Ack<StoredMessage>) => void;
  "history:search": (payload: HistorySearchInput, ack: Ack<{ messages: StoredMessage[] }>) => void;
  "presence:query": (payload: PresenceQueryInput, ack: Ack<PresenceStatus[]>) => void;
  "presence:subscribe": (payload: PresenceSubscribeInput, ack: Ack<PresenceStatus[]>) => void;
  "user:update": (payload: UserUpdateInput, ack: Ack<UserSettings>) => void;
  /** Gives the socket a newer token of its user before the current one expires; answers its `exp`. */
  "auth:refresh": (payload: AuthRefreshInput, ack: Ack<{ exp: number }>) => void;
  "room:role": (payload: RoomRoleInput, ack: Ack<Record<string, never>>) => void;
  "room:kick": (payload: RoomKickInput, ack: Ack<Record<string, never>>) => void;
  "room:ban": (payload: RoomBanInput, ack: Ack<Record<string, never>>) => void;
  "room:unban": (payload: RoomTargetInput, ack: Ack<Record<string, never>>) => void;
  "room:mute": (payload: RoomMuteInput, ack: Ack<Record<string, never>>) => void;
  "room:unmute": (payload: RoomTargetInput, ack: Ack<Record<string, never>>) => void;
  "room:update": (payload: RoomUpdateInput, ack: Ack<Room>) => void;
  "room:delete": (payload: RoomRef, ack: Ack<Record<string, never>>) => void;
  "room:audit": (payload: RoomAuditInput, ack: Ack<AuditPage>) => void;
  "room:bans": (payload: RoomBansInput, ack: Ack<RoomBansPage>) => void;
}

/**
 * Why the server is about to close a connection, sent just before it does: it shuts down; the token was
 * signed out (a password change, a sign-out, an admin's sign-out); it expired without an `auth:refresh`; the
 * account was disabled; an admin ended this session.
 */
export interface ServerNotice {
  reason: "shutdown" | "signed-out" | "token-expired" | "disabled" | "kicked";
  message: string;
}

/** Events the server emits to clients. */
export interface ServerToClientEvents {
  session: (session: SessionInfo) => void;
  message: (message: Message) => void;
  /** Sent to the invitee's sockets when a member invites them to a room. */
  "room:invited": (invite: { room: Room; by: string }) => void;
  /** Membership or a role changed in a room this socket's user is in (or just left). */
  "room:member": (change: RoomMemberChange) => void;
  /** A user followed with `presence:subscribe`, or the user itself (all its sockets), changed name or avatar. */
  "user:updated": (user: User) => void;
  /** A user this socket subscribed to (`presence:subscribe`) went online or offline. */
  presence: (status: PresenceStatus) => void;
  /** Sent before the server closes the connection on purpose (e.g. shutdown); the client should reconnect. */
  "server:notice": (notice: ServerNotice) => void;
  /**
   * A message this socket may see changed (edit, delete, reaction); not sent to the socket that changed it.
   */
  "message:updated": (message: StoredMessage) => void;
  receipt: (receipt: Receipt) => void;
  typing: (notice: TypingNotice) => void;
  /** This user was kicked or banned from a room, or the room was deleted: it is no longer a member. */
  "room:removed": (removed: RoomRemoved) => void;
  /** A room this socket's user is in changed its name, topic or visibility (`room:update`). */
  "room:updated": (room: Room) => void;
}

/** One node of a cluster, as the admin stats list it. */
export interface NodeView {
  id: string;
  /** Sockets connected to this node now. */
  connections: number;
  /** When this node started (ms since the epoch). */
  startedAt: number;
  /** Messages this node accepted since it started. */
  messages: number;
}

/** Events between the nodes of a cluster (`serverSideEmit`), each answered by every other node. */
export interface InterServerEvents {
  /** Cluster mode: moves the user's sockets on the receiving node into or out of a channel, then answers. */
  membership: (change: { userId: string; channel: string; join: boolean }, answer: (done: boolean) => void) => void;
  /** Cluster mode: how many sockets of the receiving node a send to these channels (null: all) reaches. */
  reach: (channels: string[] | null, answer: (sockets: number) => void) => void;
  /** Cluster mode: the receiving node's name, sockets and start time. */
  node: (answer: (node: NodeView) => void) => void;
  /** Cluster mode: a user's new display name, for the receiving node's sockets of that user. */
  renamed: (userId: string, name: string) => void;
  /** Cluster mode: every socket of the receiving node leaves this channel (a deleted room's), then answers. */
  dissolve: (channel: string, answer: (done: boolean) => void) => void;
  /** Cluster mode: ends the receiving node's sockets that the target names; answers how many. */
  "end-sessions": (target: SessionTarget, answer: (ended: number) => void) => void;
}

/**
 * Sockets to end, and why: one socket (`socketId`), or a user's sockets — all of them, those whose token was
 * issued before `issuedBefore` (ms), or those holding the token with `tokenHash`.
 */
export interface SessionTarget {
  reason: ServerNotice["reason"];
  userId?: string;
  socketId?: string;
  issuedBefore?: number;
  tokenHash?: string;
}

/** What the server keeps on each socket after the handshake. */
export interface SocketData {
  user: User;
  /** The socket's token: when it expires (`exp`, seconds), when it was issued (ms), its hash. */
  access: SocketAccess;
  /** When the socket connected (ms). */
  connectedAt: number;
  /** The node it is connected to (`NODE_ID`). */
  node: string;
  /** The client's address. */
  address: string;
  /** "polling" or "websocket" (after an upgrade). */
  transport: string;
}

/** What a socket's token says, for ending the socket when the token stops counting. */
export interface SocketAccess {
  exp: number;
  issuedAt: number;
  hash: string;
}

/** The `data` of a refused connection's `connect_error`. */
export interface ConnectErrorData {
  code: Extract<ErrorCode, "UNAUTHORIZED" | "FORBIDDEN" | "RATE_LIMITED" | "UNAVAILABLE">;
}

/** Every client event name. */
export type ClientEventName = keyof ClientToServerEvents;

/** The `data` type a client event answers with. */
export type AckData<E extends ClientEventName> =
  Parameters<ClientToServerEvents[E]>[1] extends Ack<infer T> ? T : never;

/** The payload type a client event takes. */
export type EventPayload<E extends ClientEventName> = Parameters<ClientToServerEvents[E]>[0];
