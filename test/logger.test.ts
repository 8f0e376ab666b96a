import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, prettyDestination } from "../server/logger.js";

/** Everything written to a stream so far, as text without colours. */
function capture() {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
  // eslint-disable-next-line no-control-regex -- ANSI colour sequences
  return { stream, text: () => text.replace(/\x1b\[[0-9;]*m/g, "") };
}

describe("log format", () => {
  it("writes readable lines through pino-pretty to a terminal outside production, still redacted", async () => {
    const out = capture();
    const destination = await prettyDestination({ production: false, tty: true, output: out.stream });
    expect(destination).toBeDefined();
    createLogger("info", destination).info({ token: "secret-token-value", room: "lobby" }, "listening");
    expect(out.text()).toMatch(/INFO.*listening/);
    expect(out.text()).toMatch(/room: "lobby"/);
    expect(out.text()).not.toMatch(/^\{/);
    expect(out.text()).not.toContain("secret-token-value");
  });

  it("keeps JSON lines in production and when the output is not a terminal", async () => {
    expect(await prettyDestination({ production: true, tty: true })).toBeUndefined();
    expect(await prettyDestination({ production: false, tty: false })).toBeUndefined();
  });

  it("falls back to JSON lines when pino-pretty is not installed (a production install)", async () => {
    const missing = () => Promise.reject(new Error("Cannot find package 'pino-pretty'"));
    expect(await prettyDestination({ production: false, tty: true }, missing)).toBeUndefined();
  });
});
