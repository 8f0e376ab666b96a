import type { WebhookEvent } from "../shared/webhooks.js";

/*
 * The receiver's side of webhooks (section 13): checks a request's Standard Webhooks signature and age, then
 * answers the event. Web Crypto (`globalThis.crypto.subtle`), so that it needs no `node:` import: it runs in
 * Node 20 and later (and in Deno, Bun, workers), and the SDK's browser bundle stays free of Node modules.
 */

/** Why `verifyWebhook` refused a request. */
export class WebhookVerificationError extends Error {
  override readonly name = "WebhookVerificationError";

  constructor(
    /** `headers` (a header is missing), `timestamp` (too old or too new), `signature` or `body` (not an event). */
    readonly reason: "headers" | "timestamp" | "signature" | "body",
    message: string,
  ) {
    super(message);
  }
}

/** A request's headers: a Fetch `Headers`, or Node's `IncomingHttpHeaders` (lower-case names). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/** Options of `verifyWebhook`. */
export interface VerifyOptions {
  /** How far the `webhook-timestamp` may be from now, in seconds. @default 300 */
  toleranceSeconds?: number;
  /** Now, in ms since the epoch. @default Date.now() */
  now?: number;
}

const header = (headers: WebhookHeaders, name: string): string | undefined => {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Bytes of base64 text, or undefined when it is not base64. */
function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

/**
 * Verifies a webhook request and answers its event: `secret` is the endpoint's `whsec_…` secret, `body` the
 * request's raw body exactly as received (parse it only after this). Refuses, with a WebhookVerificationError,
 * a missing header, a `webhook-timestamp` more than 5 minutes from now (a replay), and a signature that is not
 * the HMAC-SHA256 of `<id>.<timestamp>.<body>` (compared in constant time by Web Crypto's `verify`).
 * @example
 * const event = await verifyWebhook(process.env.WEBHOOK_SECRET!, request.headers, rawBody);
 * if (event.type === "message.created") console.log(event.data.message.content);
 */
export async function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string,
  options: VerifyOptions = {},
): Promise<WebhookEvent> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (id === undefined || timestamp === undefined || signatures === undefined) {
    throw new WebhookVerificationError("headers", "webhook-id, webhook-timestamp and webhook-signature are required");
  }
  const seconds = /^\d{1,15}$/.test(timestamp) ? Number(timestamp) : NaN;
  const now = (options.now ?? Date.now()) / 1000;
  if (!(Math.abs(now - seconds) <= (options.toleranceSeconds ?? 300))) {
    throw new WebhookVerificationError("timestamp", "webhook-timestamp is too far from now");
  }
  const key = decodeBase64(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
  if (key === undefined || key.length === 0) throw new TypeError("the secret is not whsec_<base64>");
  const subtle = globalThis.crypto.subtle;
  const hmacKey = await subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const signed = new TextEncoder().encode(`${id}.${timestamp}.${body}`);
  // The header may carry several space-separated signatures (e.g. during a secret's rotation): one must match.
  let valid = false;
  for (const entry of signatures.split(" ")) {
    const [version, encoded] = entry.split(",", 2);
    const signature = version === "v1" && encoded !== undefined ? decodeBase64(encoded) : undefined;
    if (signature && (await subtle.verify("HMAC", hmacKey, signature, signed))) valid = true;
  }
  if (!valid) throw new WebhookVerificationError("signature", "no webhook-signature matches the body");
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    throw new WebhookVerificationError("body", "the body is not JSON");
  }
  if (typeof event !== "object" || event === null || (event as { id?: unknown }).id !== id) {
    throw new WebhookVerificationError("body", "the body's id is not the webhook-id");
  }
  return event as WebhookEvent;
}
