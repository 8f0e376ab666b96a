/** The Socket.IO room holding every socket of one user. */
export const userChannel = (userId: string): string => `u:${userId}`;

/** The Socket.IO room holding every socket of every member of a chat room. */
export const roomChannel = (roomId: string): string => `r:${roomId}`;

/** The Socket.IO room holding the sockets that follow one user's presence (`presence:subscribe`). */
export const presenceChannel = (userId: string): string => `p:${userId}`;
