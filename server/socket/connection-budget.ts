import type { IncomingMessage } from "node:http";
import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { LimiterFactory } from "../cluster/limiters.js";
import { clientAddress, limitKey, type ProxyTrust } from "../http/client-address.js";

/**
 * The per-address connection budget (`RATE_LIMIT_CONNECTIONS_PER_MIN`), charged when an Engine.IO session is
 * requested — before engine.io creates it — so sessions that never connect a namespace are counted too. The
 * session's first namespace connect is covered by that charge; a further connect on the same session (a raw
 * client can send CONNECT again and again) is charged on its own.
 *
 * A session requested just past the budget (up to twice it) is still opened, so that its namespace connect can
 * tell the client `connect_error` `{ code: "RATE_LIMITED" }` as the contract says; further past it, the HTTP
 * request is refused outright (403) and no session exists at all.
 */
export class ConnectionBudget {
  private readonly limiter: RateLimiterAbstract;
  /** Handshake requests opened over budget: their namespace connect is refused. */
  private readonly overBudget = new WeakSet<IncomingMessage>();
  /** Engine.IO sessions whose first namespace connect has been made (paid for by the handshake). */
  private readonly connected = new WeakSet<object>();

  constructor(
    private readonly perMinute: number,
    private readonly trust: ProxyTrust | undefined,
    limiters: LimiterFactory,
  ) {
    this.limiter = limiters({ name: "connections", points: perMinute, durationSeconds: 60 });
  }

  /** Charges an Engine.IO handshake request; false when it must be refused without a session. */
  async admitSession(request: IncomingMessage): Promise<boolean> {
    try {
      await this.limiter.consume(limitKey(clientAddress(request, this.trust)));
      return true;
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      if (error.consumedPoints > 2 * this.perMinute) return false;
      this.overBudget.add(request);
      return true;
    }
  }

  /** Charges a namespace connect of the session `conn` opened by `request`; false when over budget. */
  async admitConnect(request: IncomingMessage, conn: object): Promise<boolean> {
    if (this.overBudget.has(request)) return false;
    if (!this.connected.has(conn)) {
      this.connected.add(conn);
      return true;
    }
    try {
      await this.limiter.consume(limitKey(clientAddress(request, this.trust)));
      return true;
    } catch (error) {
      if (error instanceof RateLimiterRes) return false;
      throw error;
    }
  }
}
