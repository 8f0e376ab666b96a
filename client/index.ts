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
export { login, readResult, register, whoAmI, type BaseUrl } from "./http.js";
