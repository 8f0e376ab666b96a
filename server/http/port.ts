import { createServer } from "node:net";
import { ConfigError } from "../config.js";

/**
 * `PORT`/`HOST` cannot be bound. A `ConfigError`, because the fix is a setting: the boot prints its one-line
 * message and exits non-zero, as for any other bad value.
 */
export class PortUnavailableError extends ConfigError {}

/** The error a failed bind of `host:port` should stop the boot with: a one-line hint for the usual causes. */
export function portError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE") {
    return new PortUnavailableError(
      `port ${port} is in use (PORT=${port}); set PORT to a free port, or stop the other server`,
      { cause: error },
    );
  }
  if (code === "EACCES") {
    return new PortUnavailableError(
      `port ${port} needs privileges this process lacks (PORT=${port}); set PORT to 1024 or above and put a proxy in front`,
      { cause: error },
    );
  }
  if (code === "EADDRNOTAVAIL") {
    return new PortUnavailableError(`HOST=${host} is not an address of this machine; set HOST to one that is`, {
      cause: error,
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** A port bound by this process until `release()`. */
export interface PortReservation {
  /** Unbinds the port; call it right before the real server listens on it. */
  release(): Promise<void>;
}

/**
 * Binds `host:port` before the boot opens anything, so that a port another process holds stops the boot
 * before the database, `DATA_DIR` or generated secrets are touched, with a `PortUnavailableError` naming
 * `PORT`. Connections that reach the port meanwhile are closed at once. Port 0 reserves nothing: the system
 * picks a free port at listen. Between `release()` and the real listen another process could still take the
 * port; that listen's error goes through `portError` too.
 * @example
 * const reservation = await reservePort(config.host, config.port);
 * const server = await createChatServer({ config });
 * await reservation.release();
 * await server.listen();
 */
export async function reservePort(host: string, port: number): Promise<PortReservation> {
  if (port === 0) return { release: async () => {} };
  const holder = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    holder.once("error", (error) => reject(portError(error, host, port)));
    holder.listen({ host, port }, resolve);
  });
  return {
    release: () => new Promise<void>((resolve) => holder.close(() => resolve())),
  };
}
