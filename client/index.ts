export {
  ChatClient,
  createChatClient,
  createClientMsgId,
  type ChatClientEvents,
  type ChatClientOptions,
  type ChatSocket,
  type ConnectionState,
  type RequestOptions,
  type RoomInvitation,
  type SyncSummary,
} from "./chat-client.js";
export { changePassword, login, logout, readResult, register, whoAmI, type BaseUrl } from "./http.js";
export type {
  Conversation,
  ConversationSummary,
  PresenceStatus,
  Receipt,
  Revision,
  StoredMessage,
  TypingNotice,
  UserSettings,
} from "../shared/schemas.js";
export { verifyWebhook, WebhookVerificationError, type VerifyOptions, type WebhookHeaders } from "./webhooks.js";
export type { WebhookEvent, WebhookEventType } from "../shared/webhooks.js";
