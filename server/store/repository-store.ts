import type { Room, RoomInvitation, StoredMessage } from "../../shared/schemas.js";
import type {
  AccessState,
  AppendResult,
  ChangeResult,
  ConversationKey,
  ConversationKeys,
  ConversationRow,
  DeleteChange,
  EditChange,
  FileCursor,
  FileRecord,
  FileRepository,
  JoinOutcome,
  MemberRow,
  MessageDraft,
  MessageRecord,
  MessageRepository,
  PageQuery,
  ReactionChange,
  ReadStateRepository,
  RevokedToken,
  RoomDraft,
  RoomRepository,
  ReadMove,
  SearchRepository,
  SessionState,
  Store,
  UserChanges,
  UserRecord,
  UserRepository,
  ClaimedDelivery,
  DeliveryOutcome,
  OutboxEvent,
  WebhookEndpointRecord,
  WebhookRepository,
} from "./types.js";
import type { WebhookDelivery } from "../../shared/webhooks.js";
import type { AuditEntry, AuditPage, ReadPositionsPage, RoomBansPage } from "../../shared/schemas.js";
import type {
  AuditDraft,
  AuditQuery,
  DeletedRoom,
  Moderated,
  ModeratedDelete,
  ModerationActor,
  ModerationRepository,
  RoomChanges,
  Standing,
} from "./moderation.js";

/** The repositories a store is made of, one per aggregate. */
export interface Repositories {
  users: UserRepository;
  rooms: RoomRepository;
  files: FileRepository;
  messages: MessageRepository;
  readState: ReadStateRepository;
  search: SearchRepository;
  webhooks: WebhookRepository;
  moderation: ModerationRepository;
}

/**
 * A Store that answers each call with the repository of its aggregate; a subclass (SqliteStore, PgStore)
 * opens the database, builds the repositories over it, and closes it.
 */
export abstract class RepositoryStore implements Store {
  protected constructor(private readonly parts: Repositories) {}

  abstract isOpen(): boolean;
  abstract close(): Promise<void>;

  // Users.

  createUser(user: { id: string; name: string; passwordHash: string | null; createAt: number }): Promise<boolean> {
    return this.parts.users.createUser(user);
  }
  ensureUser(id: string, name: string, createAt: number): Promise<UserRecord> {
    return this.parts.users.ensureUser(id, name, createAt);
  }
  getUser(id: string): Promise<UserRecord | undefined> {
    return this.parts.users.getUser(id);
  }
  userExists(id: string): Promise<boolean> {
    return this.parts.users.userExists(id);
  }
  updateUser(id: string, changes: UserChanges): Promise<UserRecord | undefined> {
    return this.parts.users.updateUser(id, changes);
  }
  setLastSeen(userId: string, at: number): Promise<void> {
    return this.parts.users.setLastSeen(userId, at);
  }
  changePassword(id: string, newHash: string, at: number, expectedHash?: string, audit?: AuditDraft): Promise<boolean> {
    return this.parts.users.changePassword(id, newHash, at, expectedHash, audit);
  }
  revokeTokens(id: string, at: number, audit?: AuditDraft): Promise<UserRecord | undefined> {
    return this.parts.users.revokeTokens(id, at, audit);
  }
  revokeToken(token: RevokedToken, at: number, maxPerUser: number): Promise<"token" | "all"> {
    return this.parts.users.revokeToken(token, at, maxPerUser);
  }
  isTokenRevoked(hash: string): Promise<boolean> {
    return this.parts.users.isTokenRevoked(hash);
  }
  revokedAmong(hashes: readonly string[]): Promise<string[]> {
    return this.parts.users.revokedAmong(hashes);
  }
  accessStates(userIds: readonly string[]): Promise<AccessState[]> {
    return this.parts.users.accessStates(userIds);
  }
  pruneRevokedTokens(now: number, limit: number): Promise<number> {
    return this.parts.users.pruneRevokedTokens(now, limit);
  }
  setDisabled(id: string, disabledAt: number | null, audit?: AuditDraft): Promise<UserRecord | undefined> {
    return this.parts.users.setDisabled(id, disabledAt, audit);
  }
  setAdmin(id: string, admin: boolean, audit?: AuditDraft): Promise<UserRecord | undefined> {
    return this.parts.users.setAdmin(id, admin, audit);
  }
  listUsers(query: { q?: string | undefined; after?: string | undefined; limit: number }): Promise<UserRecord[]> {
    return this.parts.users.listUsers(query);
  }

  // Rooms.

  createRoom(room: RoomDraft, maxOwned?: number): Promise<Room | undefined> {
    return this.parts.rooms.createRoom(room, maxOwned);
  }
  getRoom(id: string): Promise<Room | undefined> {
    return this.parts.rooms.getRoom(id);
  }
  addMember(roomId: string, userId: string, at: number): Promise<boolean> {
    return this.parts.rooms.addMember(roomId, userId, at);
  }
  removeMember(roomId: string, userId: string): Promise<boolean> {
    return this.parts.rooms.removeMember(roomId, userId);
  }
  isMember(roomId: string, userId: string): Promise<boolean> {
    return this.parts.rooms.isMember(roomId, userId);
  }
  membership(roomId: string, userId: string): Promise<"member" | "outsider" | "no-room"> {
    return this.parts.rooms.membership(roomId, userId);
  }
  addInvite(roomId: string, userId: string, invitedBy: string, at: number): Promise<void> {
    return this.parts.rooms.addInvite(roomId, userId, invitedBy, at);
  }
  hasInvite(roomId: string, userId: string): Promise<boolean> {
    return this.parts.rooms.hasInvite(roomId, userId);
  }
  dropInvite(roomId: string, userId: string): Promise<boolean> {
    return this.parts.rooms.dropInvite(roomId, userId);
  }
  pendingInvites(userId: string, limit: number): Promise<RoomInvitation[]> {
    return this.parts.rooms.pendingInvites(userId, limit);
  }
  joinRoom(roomId: string, userId: string, at: number): Promise<JoinOutcome> {
    return this.parts.rooms.joinRoom(roomId, userId, at);
  }
  roomsOf(userId: string): Promise<Room[]> {
    return this.parts.rooms.roomsOf(userId);
  }
  sessionOf(userId: string): Promise<SessionState> {
    return this.parts.rooms.sessionOf(userId);
  }
  allRooms(limit?: number): Promise<Room[]> {
    return this.parts.rooms.allRooms(limit);
  }
  roomsPage(after: string | undefined, limit: number): Promise<Room[]> {
    return this.parts.rooms.roomsPage(after, limit);
  }
  discoverableRooms(userId: string, at: number): Promise<Room[]> {
    return this.parts.rooms.discoverableRooms(userId, at);
  }
  members(roomId: string, after: string | undefined, limit: number): Promise<MemberRow[]> {
    return this.parts.rooms.members(roomId, after, limit);
  }
  memberIds(roomId: string): Promise<string[]> {
    return this.parts.rooms.memberIds(roomId);
  }
  joinedAt(roomId: string, userId: string): Promise<number | undefined> {
    return this.parts.rooms.joinedAt(roomId, userId);
  }

  // Files.

  createFile(file: FileRecord): Promise<void> {
    return this.parts.files.createFile(file);
  }
  getFile(id: string): Promise<FileRecord | undefined> {
    return this.parts.files.getFile(id);
  }
  createFileWithinQuota(file: FileRecord, quotaBytes: number): Promise<boolean> {
    return this.parts.files.createFileWithinQuota(file, quotaBytes);
  }
  fileBytesOf(owner: string): Promise<number> {
    return this.parts.files.fileBytesOf(owner);
  }
  releaseFile(id: string, at: number): Promise<boolean> {
    return this.parts.files.releaseFile(id, at);
  }
  markOrphanFiles(
    after: FileCursor | undefined,
    before: number,
    at: number,
    limit: number,
  ): Promise<{ marked: string[]; next: FileCursor | undefined }> {
    return this.parts.files.markOrphanFiles(after, before, at, limit);
  }
  markedFiles(limit: number): Promise<string[]> {
    return this.parts.files.markedFiles(limit);
  }
  forgetFiles(ids: readonly string[]): Promise<void> {
    return this.parts.files.forgetFiles(ids);
  }

  // Messages.

  appendMessage(draft: MessageDraft): Promise<AppendResult> {
    return this.parts.messages.appendMessage(draft);
  }
  conversationPage(
    conversation: ConversationKeys,
    page: PageQuery,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    return this.parts.messages.conversationPage(conversation, page);
  }
  getMessage(id: number): Promise<MessageRecord | undefined> {
    return this.parts.messages.getMessage(id);
  }
  messageByClientId(sender: string, clientMsgId: string): Promise<StoredMessage | undefined> {
    return this.parts.messages.messageByClientId(sender, clientMsgId);
  }
  editMessage(id: number, change: EditChange): Promise<ChangeResult> {
    return this.parts.messages.editMessage(id, change);
  }
  deleteMessage(id: number, change: DeleteChange): Promise<ChangeResult> {
    return this.parts.messages.deleteMessage(id, change);
  }
  revisions(id: number): Promise<{ content: string; editedAt: number }[]> {
    return this.parts.messages.revisions(id);
  }
  setReaction(id: number, change: ReactionChange): Promise<ChangeResult> {
    return this.parts.messages.setReaction(id, change);
  }
  visibleAfter(userId: string, after: number, limit: number): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    return this.parts.messages.visibleAfter(userId, after, limit);
  }
  lastVisibleId(userId: string): Promise<number> {
    return this.parts.messages.lastVisibleId(userId);
  }

  newestMessageId(): Promise<number> {
    return this.parts.messages.newestMessageId();
  }

  // Read state.

  readPosition(userId: string, conversation: ConversationKey): Promise<number> {
    return this.parts.readState.readPosition(userId, conversation);
  }
  moveReadPosition(userId: string, conversation: ConversationKey, lastReadId: number): Promise<ReadMove> {
    return this.parts.readState.moveReadPosition(userId, conversation, lastReadId);
  }
  readPositions(
    conversation: ConversationKey,
    people: { room: string } | { users: string[] },
    after: string | undefined,
    limit: number,
  ): Promise<ReadPositionsPage> {
    return this.parts.readState.readPositions(conversation, people, after, limit);
  }
  unreadCount(userId: string, conversation: ConversationKeys, after: number): Promise<number> {
    return this.parts.readState.unreadCount(userId, conversation, after);
  }
  conversationRows(userId: string): Promise<{ rooms: ConversationRow[]; direct: ConversationRow[] }> {
    return this.parts.readState.conversationRows(userId);
  }
  directPeers(userId: string): Promise<string[]> {
    return this.parts.readState.directPeers(userId);
  }

  // Search.

  search(
    userId: string,
    words: readonly string[],
    conversation: ConversationKeys | undefined,
    limit: number,
  ): Promise<StoredMessage[]> {
    return this.parts.search.search(userId, words, conversation, limit);
  }

  // Webhooks.

  createWebhook(endpoint: WebhookEndpointRecord, max: number): Promise<boolean> {
    return this.parts.webhooks.createWebhook(endpoint, max);
  }
  putWebhook(endpoint: WebhookEndpointRecord): Promise<void> {
    return this.parts.webhooks.putWebhook(endpoint);
  }
  webhooks(): Promise<WebhookEndpointRecord[]> {
    return this.parts.webhooks.webhooks();
  }
  deleteWebhook(id: string): Promise<boolean> {
    return this.parts.webhooks.deleteWebhook(id);
  }
  recordEvent(event: OutboxEvent): Promise<void> {
    return this.parts.webhooks.recordEvent(event);
  }
  usersLeftOnline(): Promise<string[]> {
    return this.parts.webhooks.usersLeftOnline();
  }

  observeDeliveries(listener: () => void): void {
    this.parts.webhooks.observeDeliveries(listener);
  }
  claimDeliveries(
    wanted: readonly { endpointId: string; limit: number }[],
    now: number,
    leaseUntil: number,
  ): Promise<ClaimedDelivery[]> {
    return this.parts.webhooks.claimDeliveries(wanted, now, leaseUntil);
  }
  settleDelivery(endpointId: string, seq: number, outcome: DeliveryOutcome): Promise<void> {
    return this.parts.webhooks.settleDelivery(endpointId, seq, outcome);
  }
  deliveries(endpointId: string, limit: number): Promise<WebhookDelivery[]> {
    return this.parts.webhooks.deliveries(endpointId, limit);
  }
  retryDelivery(endpointId: string, eventId: string, now: number): Promise<WebhookDelivery | undefined> {
    return this.parts.webhooks.retryDelivery(endpointId, eventId, now);
  }
  pruneDeliveries(before: number, limit: number): Promise<number> {
    return this.parts.webhooks.pruneDeliveries(before, limit);
  }
  outboxStats(): Promise<{ pending: number; oldestCreateAt: number | null }> {
    return this.parts.webhooks.outboxStats();
  }

  // Moderation.

  standing(roomId: string, userId: string, admins: ReadonlySet<string>): Promise<Standing> {
    return this.parts.moderation.standing(roomId, userId, admins);
  }
  setRole(roomId: string, target: string, role: "moderator" | "member", by: ModerationActor): Promise<Moderated<void>> {
    return this.parts.moderation.setRole(roomId, target, role, by);
  }
  kick(roomId: string, target: string, reason: string | undefined, by: ModerationActor): Promise<Moderated<void>> {
    return this.parts.moderation.kick(roomId, target, reason, by);
  }
  ban(
    roomId: string,
    target: string,
    ban: { until?: number | undefined; reason?: string | undefined },
    by: ModerationActor,
  ): Promise<Moderated<{ wasMember: boolean }>> {
    return this.parts.moderation.ban(roomId, target, ban, by);
  }
  unban(roomId: string, target: string, by: ModerationActor): Promise<Moderated<void>> {
    return this.parts.moderation.unban(roomId, target, by);
  }
  mute(
    roomId: string,
    target: string,
    mute: { until: number; reason?: string | undefined },
    by: ModerationActor,
  ): Promise<Moderated<void>> {
    return this.parts.moderation.mute(roomId, target, mute, by);
  }
  unmute(roomId: string, target: string, by: ModerationActor): Promise<Moderated<void>> {
    return this.parts.moderation.unmute(roomId, target, by);
  }
  activeBan(roomId: string, userId: string, at: number): Promise<number | null | undefined> {
    return this.parts.moderation.activeBan(roomId, userId, at);
  }
  activeMute(roomId: string, userId: string, at: number): Promise<number | undefined> {
    return this.parts.moderation.activeMute(roomId, userId, at);
  }
  inviteUnlessBanned(roomId: string, userId: string, invitedBy: string, at: number): Promise<boolean> {
    return this.parts.moderation.inviteUnlessBanned(roomId, userId, invitedBy, at);
  }
  updateRoom(roomId: string, changes: RoomChanges, by: ModerationActor): Promise<Moderated<Room>> {
    return this.parts.moderation.updateRoom(roomId, changes, by);
  }
  deleteRoom(roomId: string, by: ModerationActor): Promise<Moderated<DeletedRoom>> {
    return this.parts.moderation.deleteRoom(roomId, by);
  }
  moderateDeleteMessage(id: number, by: ModerationActor): Promise<Moderated<ModeratedDelete>> {
    return this.parts.moderation.moderateDeleteMessage(id, by);
  }
  auditPage(query: AuditQuery): Promise<AuditPage> {
    return this.parts.moderation.auditPage(query);
  }

  bansPage(roomId: string, at: number, after: string | undefined, limit: number): Promise<RoomBansPage> {
    return this.parts.moderation.bansPage(roomId, at, after, limit);
  }
  appendAudit(entry: AuditDraft): Promise<AuditEntry> {
    return this.parts.moderation.appendAudit(entry);
  }
}
