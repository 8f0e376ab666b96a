import { randomBytes } from "node:crypto";
import type { Server } from "socket.io";
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from "../../shared/events.js";
import { LOBBY_ROOM_ID } from "../../shared/ids.js";
import type { Room, RoomMember } from "../../shared/schemas.js";
import { AppError, forbidden, notFound } from "../errors.js";
import { roomChannel, userChannel } from "../socket/channels.js";
import type { Store } from "../store/types.js";

type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Tells who is online (including the grace), for member lists. */
export type OnlineCheck = (userId: string) => boolean;

/**
 * Rooms and memberships. Memberships are stored first; then every socket of the user joins or leaves the
 * room's channel at once, so all of a user's tabs agree.
 */
export class RoomService {
  constructor(
    private readonly io: ChatIo,
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
    this.io.in(userChannel(userId)).socketsJoin(roomChannel(room.id));
    return room;
  }

  private async existing(roomId: string): Promise<Room> {
    const room = await this.store.getRoom(roomId);
    if (!room) throw notFound("room");
    return room;
  }

  /** Joins a public room, or a private one the user was invited to. */
  async join(userId: string, roomId: string): Promise<Room> {
    const room = await this.existing(roomId);
    if (room.visibility === "private" && !(await this.store.isMember(roomId, userId))) {
      if (!(await this.store.hasInvite(roomId, userId)))
        throw forbidden("this room is private: ask a member for an invitation");
    }
    await this.store.addMember(roomId, userId, this.now());
    this.io.in(userChannel(userId)).socketsJoin(roomChannel(roomId));
    return (await this.store.getRoom(roomId))!;
  }

  /** Leaves a room (never the lobby). */
  async leave(userId: string, roomId: string): Promise<{ roomId: string }> {
    await this.existing(roomId);
    if (roomId === LOBBY_ROOM_ID) throw forbidden("the lobby cannot be left");
    if (!(await this.store.removeMember(roomId, userId))) throw forbidden("not a member of this room");
    this.io.in(userChannel(userId)).socketsLeave(roomChannel(roomId));
    return { roomId };
  }

  /** A member invites a user; the invitee's sockets are told. */
  async invite(userId: string, roomId: string, inviteeId: string): Promise<{ roomId: string; userId: string }> {
    const room = await this.existing(roomId);
    if (!(await this.store.isMember(roomId, userId))) throw forbidden("not a member of this room");
    if (!(await this.store.userExists(inviteeId))) throw notFound("user");
    await this.store.addInvite(roomId, inviteeId, userId, this.now());
    this.io.to(userChannel(inviteeId)).emit("room:invited", { room, by: userId });
    return { roomId, userId: inviteeId };
  }

  /** The rooms a user is in, and the public rooms it could join. */
  async list(userId: string): Promise<{ joined: Room[]; discoverable: Room[] }> {
    const [joined, discoverable] = await Promise.all([
      this.store.roomsOf(userId),
      this.store.discoverableRooms(userId),
    ]);
    return { joined, discoverable };
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
    const rows = await this.store.members(roomId, after, limit + 1);
    return {
      members: rows
        .slice(0, limit)
        .map((row) => ({ userId: row.userId, name: row.name, online: this.isOnline(row.userId) })),
      hasMore: rows.length > limit,
    };
  }
}
