/** The Socket.IO room holding every socket of one user. */
export const userChannel = (userId: string): string => `u:${userId}`;

/** The Socket.IO room holding every socket of every member of a chat room. */
export const roomChannel = (roomId: string): string => `r:${roomId}`;
