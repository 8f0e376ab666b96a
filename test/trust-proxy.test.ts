import type { IncomingMessage } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../server/config.js";
import { clientAddress, createProxyTrust } from "../server/http/client-address.js";
import { cleanup, signToken, startServer, type TestServer } from "./support/harness.js";
import { RawClient } from "./support/raw-client.js";

afterEach(cleanup);

/** Calls `fn`, expects a ConfigError and returns its message. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

/** A request as node hands it over: a TCP peer and an optional X-Forwarded-For header. */
const fakeRequest = (peer: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress: peer },
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
  }) as unknown as IncomingMessage;

/** Logs in (wrongly) through `inject` as if from `peer` with the given X-Forwarded-For. */
const login = (server: TestServer, forwardedFor: string, peer = "127.0.0.1") =>
  server.server.app.inject({
    method: "POST",
    url: "/api/auth/login",
    payload: { username: "nobody", password: "wrong password" },
    headers: { "x-forwarded-for": forwardedFor },
    remoteAddress: peer,
  });

/** Opens a raw WebSocket session with `headers` and connects the namespace; the answer or the HTTP refusal. */
async function handshake(server: TestServer, headers: Record<string, string>, user: string): Promise<string> {
  let client: RawClient;
  try {
    client = await RawClient.open(server.url, undefined, headers);
  } catch (error) {
    return (error as Error).message;
  }
  client.send(`40${JSON.stringify({ token: signToken(user) })}`);
  const answer = await client.next((frame) => frame.startsWith("40") || frame.startsWith("44"));
  client.close();
  return answer.startsWith("40") ? "connected" : (JSON.parse(answer.slice(2)) as { data: { code: string } }).data.code;
}

describe("TRUST_PROXY parsing", () => {
  const cases: [string | undefined, number | string[]][] = [
    [undefined, 0],
    ["", 0],
    ["0", 0],
    ["false", 0],
    ["true", 1],
    ["TRUE", 1],
    ["1", 1],
    ["2", 2],
    ["10.0.0.0/8, 127.0.0.1", ["10.0.0.0/8", "127.0.0.1"]],
    ["loopback,fd00::/8", ["loopback", "fd00::/8"]],
  ];
  for (const [text, expected] of cases) {
    it(`reads TRUST_PROXY=${JSON.stringify(text)} as ${JSON.stringify(expected)}`, () => {
      expect(loadConfig(text === undefined ? {} : { TRUST_PROXY: text }).trustProxy).toEqual(expected);
    });
  }

  for (const bad of [
    "perhaps",
    "yes",
    "-1",
    "1.5",
    "33",
    "10.0.0.0/33",
    "1.2.3",
    "10.0.0.1/8/8",
    "::1/129",
    ",",
    "example.com",
  ]) {
    it(`stops the boot naming TRUST_PROXY for TRUST_PROXY=${JSON.stringify(bad)}`, () => {
      expect(configError(() => loadConfig({ TRUST_PROXY: bad }))).toMatch(/TRUST_PROXY/);
    });
  }
});

describe("client address", () => {
  it("is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says", () => {
    expect(clientAddress(fakeRequest("203.0.113.9", "1.2.3.4"), createProxyTrust(0))).toBe("203.0.113.9");
  });

  it("is the Nth address from the right of X-Forwarded-For behind N proxies", () => {
    const request = fakeRequest("127.0.0.1", "1.2.3.4, 198.51.100.7, 10.0.0.5");
    expect(clientAddress(request, createProxyTrust(1))).toBe("10.0.0.5");
    expect(clientAddress(request, createProxyTrust(2))).toBe("198.51.100.7");
    // More hops than entries: the leftmost address.
    expect(clientAddress(request, createProxyTrust(5))).toBe("1.2.3.4");
    // Behind one proxy with no header (the proxy did not add one): the peer.
    expect(clientAddress(fakeRequest("127.0.0.1"), createProxyTrust(1))).toBe("127.0.0.1");
  });

  it("is the first address from the right that is not a listed proxy", () => {
    const trust = createProxyTrust(["127.0.0.0/8", "10.0.0.0/8"]);
    expect(clientAddress(fakeRequest("127.0.0.1", "1.2.3.4, 198.51.100.7, 10.0.0.5"), trust)).toBe("198.51.100.7");
    // A peer that is not a listed proxy is the client, whatever header it sends.
    expect(clientAddress(fakeRequest("203.0.113.9", "1.2.3.4"), trust)).toBe("203.0.113.9");
    // An IPv4 peer on a dual-stack socket.
    expect(clientAddress(fakeRequest("::ffff:127.0.0.1", "198.51.100.7"), trust)).toBe("198.51.100.7");
    // A forged entry that is not an address is not a proxy either.
    expect(clientAddress(fakeRequest("127.0.0.1", "198.51.100.7, junk"), trust)).toBe("junk");
  });
});

describe("behind a proxy", () => {
  it("with TRUST_PROXY=1, counts logins against the address the proxy appended, not the ones the client wrote", async () => {
    const server = await startServer({ TRUST_PROXY: "1", RATE_LIMIT_AUTH_PER_MIN: "3" });
    const statuses: number[] = [];
    for (let index = 0; index < 5; index++) {
      statuses.push((await login(server, `1.2.3.${index}, 203.0.113.9`)).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // Another real client behind the same proxy has its own budget.
    expect((await login(server, "1.2.3.4, 203.0.113.10")).statusCode).toBe(401);
  });

  it("with TRUST_PROXY=1, counts handshakes against the address the proxy appended", async () => {
    const server = await startServer({ TRUST_PROXY: "1", RATE_LIMIT_CONNECTIONS_PER_MIN: "3" });
    const outcomes: string[] = [];
    for (let index = 0; index < 6; index++) {
      outcomes.push(await handshake(server, { "x-forwarded-for": `1.2.3.${index}, 203.0.113.9` }, `u${index}`));
    }
    expect(outcomes.slice(0, 3)).toEqual(["connected", "connected", "connected"]);
    expect(outcomes.slice(3)).toEqual(["RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"]);
    expect(await handshake(server, { "x-forwarded-for": "203.0.113.10" }, "other")).toBe("connected");
  });

  it("with a list of proxy ranges, skips the trusted proxies and counts against the first address outside them", async () => {
    const server = await startServer({ TRUST_PROXY: "127.0.0.0/8, 10.0.0.0/8", RATE_LIMIT_AUTH_PER_MIN: "2" });
    const statuses: number[] = [];
    for (let index = 0; index < 4; index++) {
      statuses.push((await login(server, `1.2.3.${index}, 198.51.100.7, 10.0.0.5`)).statusCode);
    }
    expect(statuses).toEqual([401, 401, 429, 429]);
    // A client that reaches the server directly (not through a listed proxy) cannot pick an address at all.
    const direct = [];
    for (let index = 0; index < 3; index++) {
      direct.push((await login(server, `1.2.3.${index}`, "203.0.113.50")).statusCode);
    }
    expect(direct).toEqual([401, 401, 429]);
  });

  it("with a list of proxy ranges, counts handshakes the same way", async () => {
    const server = await startServer({ TRUST_PROXY: "127.0.0.0/8,10.0.0.0/8", RATE_LIMIT_CONNECTIONS_PER_MIN: "2" });
    const outcomes: string[] = [];
    for (let index = 0; index < 4; index++) {
      outcomes.push(
        await handshake(server, { "x-forwarded-for": `1.2.3.${index}, 198.51.100.7, 10.0.0.5` }, `u${index}`),
      );
    }
    expect(outcomes).toEqual(["connected", "connected", "RATE_LIMITED", "RATE_LIMITED"]);
  });

  it("by default ignores X-Forwarded-For altogether", async () => {
    const server = await startServer({ RATE_LIMIT_AUTH_PER_MIN: "2" });
    const statuses: number[] = [];
    for (let index = 0; index < 3; index++) statuses.push((await login(server, `1.2.3.${index}`)).statusCode);
    expect(statuses).toEqual([401, 401, 429]);
  });
});

describe("IPv6 clients are counted by their /64", () => {
  it("keys an IPv6 address by its /64 and an IPv4-mapped one by its IPv4 address", async () => {
    const { limitKey } = await import("../server/http/client-address.js");
    expect(limitKey("2001:db8:1:2::101")).toBe("2001:db8:1:2::/64");
    expect(limitKey("2001:0db8:0001:0002:ffff:0:0:1")).toBe("2001:db8:1:2::/64");
    expect(limitKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(limitKey("::1")).toBe("0:0:0:0::/64");
    expect(limitKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(limitKey("192.0.2.7")).toBe("192.0.2.7");
  });
});

describe("IPv6 clients behind a proxy", () => {
  it("count logins from every address of one /64 together", async () => {
    const server = await startServer({ TRUST_PROXY: "1", RATE_LIMIT_AUTH_PER_MIN: "3" });
    const statuses: number[] = [];
    for (let index = 0; index < 5; index++) {
      statuses.push((await login(server, `2001:db8:1:2::${100 + index}`)).statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    expect((await login(server, "2001:db8:1:3::1")).statusCode).toBe(401);
  });
});
