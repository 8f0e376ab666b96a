import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";
import type { Config } from "../config.js";

/**
 * Whether the address at `hop` of a request's chain (0 = the TCP peer, 1 = the rightmost `X-Forwarded-For`
 * entry, ...) is a proxy we trust to have written the entry left of it. The same signature as proxy-addr's
 * trust functions, so fastify's `trustProxy` takes it as is and `request.ip` agrees with `clientAddress`.
 */
export type ProxyTrust = (address: string, hop: number) => boolean;

const RANGES: Record<string, readonly string[]> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
  uniquelocal: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
};

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is `10.0.0.1`. */
function unmapped(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * The trust function of a `TRUST_PROXY` setting, or undefined when no proxy is trusted (the TCP peer is the
 * client). A hop count trusts that many hops whatever their address (the server must then be reachable only
 * through the proxies); a list trusts exactly the addresses and ranges it names.
 */
export function createProxyTrust(setting: Config["trustProxy"]): ProxyTrust | undefined {
  if (typeof setting === "number") {
    const hops = setting;
    return hops === 0 ? undefined : (_address, hop) => hop < hops;
  }
  const trusted = new BlockList();
  for (const entry of setting.flatMap((name) => RANGES[name] ?? [name])) {
    const [address = "", prefix] = entry.split("/");
    const family = isIP(address) === 4 ? "ipv4" : "ipv6";
    if (prefix === undefined) trusted.addAddress(address, family);
    else trusted.addSubnet(address, Number(prefix), family);
  }
  return (address) => {
    const plain = unmapped(address);
    const family = isIP(plain);
    return family !== 0 && trusted.check(plain, family === 4 ? "ipv4" : "ipv6");
  };
}

/**
 * The address a request's rate limits count against: walking from the TCP peer leftwards through
 * `X-Forwarded-For`, the first address that is not a trusted proxy (the leftmost one if all are). A client can
 * prepend what it likes to the header; it never reaches the entries the trusted proxies appended.
 */
export function clientAddress(request: IncomingMessage, trust: ProxyTrust | undefined): string {
  let address = unmapped(request.socket.remoteAddress ?? "unknown");
  if (!trust) return address;
  const header = request.headers["x-forwarded-for"];
  // Node joins repeated X-Forwarded-For headers with ", "; empty entries are skipped, as proxy-addr does.
  const chain = (typeof header === "string" ? header.split(",") : [])
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (let hop = 0; hop <= chain.length - 1 && trust(address, hop); hop += 1) {
    address = chain[chain.length - 1 - hop]!;
  }
  return address;
}

/**
 * The key a per-address limit counts a client under: an IPv4 address as it is, an IPv6 address by its /64
 * (one host usually holds a whole /64, so counting single IPv6 addresses would give it 2^64 budgets). An
 * IPv4-mapped IPv6 address counts as its IPv4 address.
 * @example limitKey("2001:db8:1:2::101") // "2001:db8:1:2::/64"
 */
export function limitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  // Expand `::` to the missing zero groups, then keep the first four.
  const [head = "", tail] = address.toLowerCase().split("%")[0]!.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
