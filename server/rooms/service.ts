import { randomBytes } from "node:crypto";
import { LOBBY_ROOM_ID } from "../../shared/ids.js";
import type { Room, RoomLists, RoomMember, RoomMemberChange, RoomRole } from "../../shared/schemas.js";
import { AppError, forbidden, notFound } from "../errors.js";
import { fileUrl } from "../files/urls.js";
import type { Delivery } from "../delivery/deliver.js";
import type { Store } from "../store/types.js";

/** Pending invitations `room:list` answers at most (newest first). */
export const MAX_LISTED_INVITATIONS = 200;

/** A member's role: the room's creator owns it; `lobby` (created by the system) has no owner. */
const roleOf = (room: Room, userId: string): RoomRole => (room.createdBy === userId ? "owner" : "member");

/** Tells which of these users are online (including the grace; on any node), for member lists. */
export type OnlineCheck = (userIds: readonly string[]) => Promise<boolean[]>;

/**
 * Rooms and memberships. Memberships are stored first; then every socket of the user joins or leaves the
 * room's channel at once, so all of a user's tabs agree.
 */
export class RoomService {
  constructor(
    private readonly delivery: Delivery,
    private readonly store: Store,
    private readonly now: () => number,
    private readonly isOnline: OnlineCheck,
    private readonly maxRoomsPerUser = Infinity,
  ) {}

  /** Creates a room with the creator as its first member. */
  async create(userId: string, name: string, visibility: "public" | "private", id?: string): Promise<Room> {
    const room = await this.store.createRoom(
      { id: id ?? randomBytes(9).toString("base64url"), name, visibility, createdBy: userId, createAt: this.now() },
      this.maxRoomsPerUser,
    );
    if (!room) throw new AppError("CONFLICT", `a user may own at most ${this.maxRoomsPerUser} rooms`);
    await this.delivery.joinRoom(userId, room.id);
    await this.announceMember(room, userId, "joined");
    return room;
  }

  private async existing(roomId: string): Promise<Room> {
    const room = await this.store.getRoom(roomId);
    if (!room) throw notFound("room");
    return room;
  }

  /** Tells the room's members (the subject's sockets included, while still in the room) of a change. */
  private async announceMember(room: Room, userId: string, change: RoomMemberChange["change"]): Promise<void> {
    const name = (await this.store.getUser(userId))?.name ?? userId;
    const event: RoomMemberChange = { roomId: room.id, userId, name, change };
    if (change === "joined" || change === "role") event.role = roleOf(room, userId);
    this.delivery.roomMember(event);
  }

  /** Joins a public room, or a private one the user was invited to (the join uses the invitation up). */
  async join(userId: string, roomId: string): Promise<Room> {
    const outcome = await this.store.joinRoom(roomId, userId, this.now());
    if (outcome === "no-room") throw notFound("room");
    if (outcome === "not-invited") throw forbidden("this room is private: ask a member for an invitation");
    if (outcome === "banned") {
      // Says until when (read again: the refusal is rare), so that a client can tell the user.
      const until = await this.store.activeBan(roomId, userId, this.now());
      throw forbidden(
        typeof until === "number"
          ? `you are banned from this room until ${new Date(until).toISOString()}`
          : "you are banned from this room for good",
      );
    }
    await this.delivery.joinRoom(userId, roomId);
    const room = await this.existing(roomId);
    if (outcome === "joined") await this.announceMember(room, userId, "joined");
    return room;
  }

  /**
   * Seats a user back in `lobby` (every user belongs to it) when a kick took it out, or a ban that has since
   * lapsed; a user banned from `lobby` stays out. Answers whether the user is in `lobby` now, once the store
   * says so: moving its other sockets (on every node) and telling the members follow in the background, so that
   * a connect never waits on other nodes or Redis (`onError` hears of a failure there).
   */
  async reseatInLobby(userId: string, onError: (error: unknown) => void): Promise<boolean> {
    const outcome = await this.store.joinRoom(LOBBY_ROOM_ID, userId, this.now());
    if (outcome !== "joined") return outcome === "already";
    Promise.all([
      this.delivery.joinRoom(userId, LOBBY_ROOM_ID),
      this.existing(LOBBY_ROOM_ID).then((lobby) => this.announceMember(lobby, userId, "joined")),
    ]).catch(onError);
    return true;
  }

  /** Leaves a room (never the lobby). */
  async leave(userId: string, roomId: string): Promise<{ roomId: string }> {
    const room = await this.existing(roomId);
    if (roomId === LOBBY_ROOM_ID) throw forbidden("the lobby cannot be left");
    if (!(await this.store.removeMember(roomId, userId))) throw forbidden("not a member of this room");
    // Told before the user's sockets leave the channel, so they hear it too.
    await this.announceMember(room, userId, "left");
    await this.delivery.leaveRoom(userId, roomId);
    return { roomId };
  }

  /** A member invites a user to a private room; the invitation stays pending until joined or declined. */
  async invite(userId: string, roomId: string, inviteeId: string): Promise<{ roomId: string; userId: string }> {
    const room = await this.existing(roomId);
    if (!(await this.store.isMember(roomId, userId))) throw forbidden("not a member of this room");
    if (!(await this.store.userExists(inviteeId))) throw notFound("user");
    const banned = forbidden("this user is banned from this room");
    if ((await this.store.activeBan(roomId, inviteeId, this.now())) !== undefined) throw banned;
    // A member needs no invitation; one to a public room would never show (anyone may join it).
    if (room.visibility === "public" || (await this.store.isMember(roomId, inviteeId))) {
      return { roomId, userId: inviteeId };
    }
    // Checked again with the write: a ban committed since the check above wins.
    if (!(await this.store.inviteUnlessBanned(roomId, inviteeId, userId, this.now()))) throw banned;
    this.delivery.invited(inviteeId, room, userId);
    return { roomId, userId: inviteeId };
  }

  /** Drops the caller's pending invitation to a room. */
  async decline(userId: string, roomId: string): Promise<{ roomId: string }> {
    if (!(await this.store.dropInvite(roomId, userId))) throw notFound("invitation");
    return { roomId };
  }

  /** The rooms a user is in, the public rooms it could join, and its pending invitations. */
  async list(userId: string): Promise<RoomLists> {
    const [joined, discoverable, invited] = await Promise.all([
      this.store.roomsOf(userId),
      this.store.discoverableRooms(userId, this.now()),
      this.store.pendingInvites(userId, MAX_LISTED_INVITATIONS),
    ]);
    return { joined, discoverable, invited };
  }

  /** A page of a room's members, by user id, for members only. */
  async members(
    userId: string,
    roomId: string,
    after: string | undefined,
    limit: number,
  ): Promise<{ members: RoomMember[]; hasMore: boolean }> {
    await this.existing(roomId);
    if (!(await this.store.isMember(roomId, userId))) throw forbidden("not a member of this room");
    const page = await this.store.members(roomId, after, limit + 1);
    const rows = page.slice(0, limit);
    const online = await this.isOnline(rows.map((row) => row.userId));
    const now = this.now();
    return {
      members: rows.map((row, index) => {
        const member: RoomMember = {
          userId: row.userId,
          name: row.name,
          online: online[index]!,
          role: row.role,
        };
        if (row.avatarFileId !== null) member.avatarUrl = fileUrl(row.avatarFileId);
        if (row.mutedUntil !== null && row.mutedUntil > now) member.mutedUntil = row.mutedUntil;
        return member;
      }),
      hasMore: page.length > limit,
    };
  }
}
