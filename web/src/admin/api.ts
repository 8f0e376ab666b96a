import { readResult } from "../../../client/http.js";
import type { Result } from "../../../shared/errors.js";
import type { AdminSession, AdminStats, AdminUser } from "../../../shared/http.js";
import type { AuditEntry, PushInput, PushResponse, Room, StoredMessage } from "../../../shared/schemas.js";
import type { WebhookEventType } from "../../../shared/webhook-events.js";
import type { Webhook, WebhookCreated, WebhookDelivery } from "../../../shared/webhooks.js";

export type { AuditEntry };

/** Filters of the audit view; each is sent as a query field of the same name. */
export interface AuditFilter {
  actor?: string;
  action?: string;
  roomId?: string;
  targetUserId?: string;
}

/** What a user action posts to: `POST /api/admin/users/:id/<action>`. */
export type UserAction = "disable" | "enable" | "sign-out";

const query = (fields: Record<string, string | number | undefined>) => {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
};

/**
 * The admin API (`/api/admin/*`, docs/protocol.md "Admin") with one credential: the admin key or an admin
 * user's token, sent as `Authorization: Bearer`. Every call answers a `Result`: the body, or the server's
 * error (a network failure is `UNAVAILABLE`).
 */
export class AdminApi {
  /**
   * @param onUnauthorized called when the server answers 401: the credential no longer counts (the admin user
   * was signed out, the key changed).
   */
  constructor(
    private readonly bearer: string,
    private readonly onUnauthorized?: () => void,
  ) {}

  async call<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<Result<T>> {
    const headers: Record<string, string> = { Authorization: `Bearer ${this.bearer}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      const response = await fetch(path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const result = await readResult<T>(response);
      if (response.status === 401) this.onUnauthorized?.();
      return result;
    } catch (error) {
      const message = error instanceof Error ? error.message : "the server could not be reached";
      return { ok: false, error: { code: "UNAVAILABLE", message } };
    }
  }

  stats(): Promise<Result<AdminStats>> {
    return this.call("GET", "/api/admin/stats");
  }

  users(q: string, after?: string, limit = 20): Promise<Result<{ users: AdminUser[]; hasMore: boolean }>> {
    return this.call("GET", `/api/admin/users${query({ q, after, limit })}`);
  }

  userAction(id: string, action: UserAction): Promise<Result<AdminUser>> {
    return this.call("POST", `/api/admin/users/${encodeURIComponent(id)}/${action}`);
  }

  setAdmin(id: string, admin: boolean): Promise<Result<AdminUser>> {
    return this.call("POST", `/api/admin/users/${encodeURIComponent(id)}/admin`, { admin });
  }

  resetPassword(id: string, password: string): Promise<Result<undefined>> {
    return this.call("POST", `/api/admin/users/${encodeURIComponent(id)}/password`, { password });
  }

  sessions(user?: string, after?: string): Promise<Result<{ sessions: AdminSession[]; hasMore: boolean }>> {
    return this.call("GET", `/api/admin/sessions${query({ user, after, limit: 50 })}`);
  }

  endSession(socketId: string): Promise<Result<undefined>> {
    return this.call("DELETE", `/api/admin/sessions/${encodeURIComponent(socketId)}`);
  }

  rooms(after?: string): Promise<Result<{ rooms: Room[]; hasMore: boolean }>> {
    return this.call("GET", `/api/admin/rooms${query({ after, limit: 50 })}`);
  }

  roomMessages(roomId: string, before?: number): Promise<Result<{ messages: StoredMessage[]; hasMore: boolean }>> {
    return this.call("GET", `/api/admin/rooms/${encodeURIComponent(roomId)}/messages${query({ before, limit: 50 })}`);
  }

  deleteMessage(id: number): Promise<Result<StoredMessage>> {
    return this.call("DELETE", `/api/admin/messages/${id}`);
  }

  /** `DELETE /api/admin/rooms/:id`. */
  deleteRoom(roomId: string): Promise<Result<undefined>> {
    return this.call("DELETE", `/api/admin/rooms/${encodeURIComponent(roomId)}`);
  }

  /** `GET /api/admin/audit`, newest first. */
  audit(filter: AuditFilter, before?: number): Promise<Result<{ entries: AuditEntry[]; hasMore: boolean }>> {
    return this.call("GET", `/api/admin/audit${query({ ...filter, before, limit: 50 })}`);
  }

  notice(to: PushInput["to"], content: string): Promise<Result<PushResponse>> {
    return this.call("POST", "/api/admin/notices", { to, content });
  }

  webhooks(): Promise<Result<{ webhooks: Webhook[] }>> {
    return this.call("GET", "/api/admin/webhooks");
  }

  /** `events` absent: every event. */
  createWebhook(url: string, events?: WebhookEventType[]): Promise<Result<WebhookCreated>> {
    return this.call("POST", "/api/admin/webhooks", events === undefined ? { url } : { url, events });
  }

  deleteWebhook(id: string): Promise<Result<undefined>> {
    return this.call("DELETE", `/api/admin/webhooks/${encodeURIComponent(id)}`);
  }

  webhookDeliveries(id: string, limit: number): Promise<Result<{ deliveries: WebhookDelivery[] }>> {
    return this.call("GET", `/api/admin/webhooks/${encodeURIComponent(id)}/deliveries${query({ limit })}`);
  }

  retryWebhookDelivery(id: string, eventId: string): Promise<Result<WebhookDelivery>> {
    return this.call(
      "POST",
      `/api/admin/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(eventId)}/retry`,
    );
  }
}
