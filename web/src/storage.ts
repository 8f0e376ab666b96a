import type { User } from "../../shared/schemas.js";
import type { ConversationKey } from "./conversations.js";

const SESSION_KEY = "chat.session";

/** The signed-in user and token, kept for the browser session (sessionStorage: gone when the tab closes). */
export interface StoredSession {
  token: string;
  user: User;
}

/** The session kept by this tab, if any. */
export function loadSession(): StoredSession | undefined {
  try {
    const value = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null") as Partial<StoredSession> | null;
    return typeof value?.token === "string" && typeof value.user?.id === "string"
      ? (value as StoredSession)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps the session for this tab. */
export function saveSession(session: StoredSession): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

/** Forgets the session (log out). */
export function clearSession(): void {
  sessionStorage.removeItem(SESSION_KEY);
}

/** What this browser remembers per user between visits: no message content, only positions. */
export interface LocalState {
  /** The SDK's cursor: the next visit catches up from here and counts what it missed as unread. */
  cursor?: number;
  /** Newest message id seen in each conversation. */
  lastRead: Partial<Record<ConversationKey, number>>;
  unread: Partial<Record<ConversationKey, number>>;
  /** Conversations with an unread message that mentions the user: the `@` badge survives a reload. */
  mentioned?: ConversationKey[];
  /** User ids of direct conversations, newest activity first. */
  directs: string[];
  /** The conversation open last: a reload comes back to it. */
  active?: ConversationKey;
}

const isConversationKey = (value: unknown): value is ConversationKey =>
  typeof value === "string" && /^(room|user):./.test(value);

const localKey = (userId: string) => `chat.v1.${userId}`;

/** What this browser remembers for a user (empty on a first visit or unreadable storage). */
export function loadLocalState(userId: string): LocalState {
  try {
    const value = JSON.parse(localStorage.getItem(localKey(userId)) ?? "null") as Partial<LocalState> | null;
    return {
      cursor: typeof value?.cursor === "number" ? value.cursor : undefined,
      lastRead: value?.lastRead ?? {},
      unread: value?.unread ?? {},
      directs: Array.isArray(value?.directs) ? value.directs.filter((id) => typeof id === "string") : [],
      mentioned: Array.isArray(value?.mentioned) ? value.mentioned.filter(isConversationKey) : [],
      active: isConversationKey(value?.active) ? value.active : undefined,
    };
  } catch {
    return { lastRead: {}, unread: {}, directs: [] };
  }
}

/** Remembers a user's positions; a full or disabled storage is not an error. */
export function saveLocalState(userId: string, state: LocalState): void {
  try {
    localStorage.setItem(localKey(userId), JSON.stringify(state));
  } catch {
    // Storage full or disabled (private mode): unread counts just start afresh next visit.
  }
}
