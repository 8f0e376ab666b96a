import WebSocket from "ws";

/**
 * A raw Engine.IO v4 / Socket.IO v5 client over WebSocket, for frames the typed client never sends.
 * Engine.IO packet types: 0 open, 1 close, 2 ping, 3 pong, 4 message; Socket.IO packets ride inside
 * message packets: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK.
 */
export class RawClient {
  readonly frames: string[] = [];
  private waiters: { test: (frame: string) => boolean; resolve: (frame: string) => void }[] = [];
  closed = false;
  closeCode: number | undefined;
  /** Answer the server's heartbeat pings; turn off to play a peer that went silent. */
  autoPong = true;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      const frame = isBinary ? `<binary ${(data as Buffer).length}>` : data.toString();
      if (frame === "2" && this.autoPong) ws.send("3");
      this.frames.push(frame);
      this.waiters = this.waiters.filter((waiter) => {
        if (!waiter.test(frame)) return true;
        waiter.resolve(frame);
        return false;
      });
    });
    ws.on("close", (code) => {
      this.closed = true;
      this.closeCode = code;
    });
    // A server that drops the connection may make the socket error first; the close event still follows.
    ws.on("error", () => {});
  }

  /** Opens the WebSocket transport and waits for the Engine.IO open packet. */
  static async open(
    baseUrl: string,
    query = "EIO=4&transport=websocket",
    headers: Record<string, string> = {},
  ): Promise<RawClient> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/socket.io/?${query}`, { headers });
    const client = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    });
    await client.next((frame) => frame.startsWith("0"));
    return client;
  }

  /** Opens and sends the Socket.IO CONNECT with `auth`, waiting for the server's answer (CONNECT or CONNECT_ERROR). */
  static async connect(baseUrl: string, auth: unknown): Promise<{ client: RawClient; answer: string }> {
    const client = await RawClient.open(baseUrl);
    client.send(`40${JSON.stringify(auth)}`);
    const answer = await client.next((frame) => frame.startsWith("40") || frame.startsWith("44"));
    return { client, answer };
  }

  /** Sends one raw text frame. */
  send(frame: string | Buffer): void {
    this.ws.send(frame);
  }

  /** Resolves with the first frame (already received or next) that passes `test`. */
  next(test: (frame: string) => boolean, ms = 5000): Promise<string> {
    const seen = this.frames.find(test);
    if (seen !== undefined) {
      this.frames.splice(this.frames.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("expected frame did not arrive")), ms);
      this.waiters.push({
        test,
        resolve: (frame) => {
          clearTimeout(timer);
          this.frames.splice(this.frames.indexOf(frame), 1);
          resolve(frame);
        },
      });
    });
  }

  /** Resolves once the server has closed the connection. */
  whenClosed(ms = 5000): Promise<void> {
    if (this.closed || this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("connection stayed open")), ms);
      this.ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.ws.terminate();
  }
}
