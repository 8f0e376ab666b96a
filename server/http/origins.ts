import type { Config } from "../config.js";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Decides whether a browser origin may talk to the server. No `Origin` header (a non-browser client) is
 * accepted; `Origin: null` is foreign; the server's own origin (Origin host equals Host header), the
 * configured `ALLOWED_ORIGINS`, and outside production http://localhost, 127.0.0.1 and [::1] are allowed.
 */
export function createOriginCheck(config: Config): (origin: string | undefined, host: string | undefined) => boolean {
  const allowed = new Set(config.allowedOrigins ?? []);
  return (origin, host) => {
    if (origin === undefined) return true;
    if (!URL.canParse(origin)) return false;
    const url = new URL(origin);
    if (url.origin === "null") return false;
    if (host !== undefined && url.host === host.toLowerCase()) return true;
    if (allowed.has(url.origin)) return true;
    return !config.production && url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
  };
}
