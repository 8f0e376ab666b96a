import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a test receiver got. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** When it arrived (ms since the epoch). */
  at: number;
  /** The body's `id`, `type`, `seq` and `data`. */
  event: { id: string; type: string; timestamp: string; seq: number; data: Record<string, unknown> };
}

/** How the receiver answers a request: a status, or `"hang"` (never answers). */
export type Answer = number | "hang";

/** A webhook receiver on 127.0.0.1 and a free port, keeping what it got. */
export interface Receiver {
  url: string;
  received: Received[];
  /** Changes how later requests are answered. */
  answer: (decide: (request: Received) => Answer) => void;
  close(): Promise<void>;
}

/** Starts a receiver answering 200 unless told otherwise. */
export async function startReceiver(decide: (request: Received) => Answer = () => 200): Promise<Receiver> {
  let answer = decide;
  const received: Received[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("end", () => {
      const entry: Received = { headers: request.headers, body, at: Date.now(), event: JSON.parse(body) as never };
      received.push(entry);
      const status = answer(entry);
      if (status === "hang") {
        hanging.add(response);
        return;
      }
      response.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    answer: (next) => (answer = next),
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of hanging) response.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Checks a request's Standard Webhooks signature the way a receiver in another language would, without the
 * SDK's helper: HMAC-SHA256 keyed with the base64-decoded part of `whsec_…` over `<id>.<timestamp>.<body>`.
 */
export function signatureValid(secret: string, request: Pick<Received, "headers" | "body">): boolean {
  const id = request.headers["webhook-id"];
  const timestamp = request.headers["webhook-timestamp"];
  const header = request.headers["webhook-signature"];
  if (typeof id !== "string" || typeof timestamp !== "string" || typeof header !== "string") return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${request.body}`).digest();
  return header.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    const given = Buffer.from(signature ?? "", "base64");
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected);
  });
}
