import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createHandlerTable } from "../server/socket/handlers.js";
import { createModerationHandlers } from "../server/socket/moderation-handlers.js";
import { ERROR_CODES, HTTP_STATUS } from "../shared/errors.js";

/*
 * docs/protocol.md must not fall behind the code: every event of the two event maps in shared/events.ts has
 * its own heading (or table entry) in the right section, no heading names an event that does not exist, and
 * every error code is in the error table with its HTTP status. The event maps are types, gone at run time,
 * so their keys are read from the source text, and checked against the server's handler table.
 */

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

/** The keys of `export interface <name> { ... }` in a TypeScript source (comments skipped). */
function interfaceKeys(source: string, name: string): string[] {
  const start = source.indexOf(`export interface ${name} {`);
  if (start < 0) throw new Error(`interface ${name} not found`);
  const body = source.slice(start, source.indexOf("\n}", start));
  const keys: string[] = [];
  for (const line of body.split("\n").slice(1)) {
    const match = /^\s{2}(?:"([^"]+)"|([A-Za-z_$][\w$]*))\??\s*:/.exec(line);
    if (match) keys.push(match[1] ?? match[2]!);
  }
  return keys;
}

/** The document without its fenced code blocks (a `# comment` in a shell example is no heading). */
function withoutCode(markdown: string): string[] {
  let fenced = false;
  return markdown.split("\n").filter((line) => {
    if (line.startsWith("```")) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** The lines of the `## ` section whose title matches `title`. */
function section(lines: string[], title: RegExp): string[] {
  const start = lines.findIndex((line) => line.startsWith("## ") && title.test(line.slice(3)));
  if (start < 0) throw new Error(`no section ${title}`);
  const end = lines.findIndex((line, index) => index > start && line.startsWith("## "));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

const codeSpans = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);

/** Names written in code in the section's headings (### and deeper) and in its tables' first cells. */
function entries(lines: string[]): { headings: string[]; tableCells: string[] } {
  const headings = lines.flatMap((line) => (/^#{3,6} /.test(line) ? codeSpans(line) : []));
  const tableCells = lines.flatMap((line) => {
    const cell = /^\|([^|]*)\|/.exec(line);
    return cell ? codeSpans(cell[1]!) : [];
  });
  return { headings, tableCells };
}

const events = read("shared/events.ts");
const clientEvents = interfaceKeys(events, "ClientToServerEvents");
const serverEvents = interfaceKeys(events, "ServerToClientEvents");
const doc = withoutCode(read("docs/protocol.md"));

describe("docs/protocol.md", () => {
  it("reads the event maps of shared/events.ts: the client events are exactly those the server serves", () => {
    // The table binds each event to a service; building it calls none of them.
    const served = [
      ...Object.keys(createHandlerTable({} as Parameters<typeof createHandlerTable>[0])),
      ...Object.keys(createModerationHandlers({} as Parameters<typeof createModerationHandlers>[0])),
    ];
    expect([...clientEvents].sort()).toEqual([...served].sort());
    expect(serverEvents).toContain("session");
    expect(serverEvents).toContain("message");
  });

  it.each(clientEvents)("documents the client event %s in the client → server section", (event) => {
    const { headings, tableCells } = entries(section(doc, /^Client → server events$/));
    expect([...headings, ...tableCells]).toContain(event);
  });

  it.each(serverEvents)("documents the server event %s in the server → client section", (event) => {
    const { headings, tableCells } = entries(section(doc, /^Server → client events$/));
    expect([...headings, ...tableCells]).toContain(event);
  });

  it("gives no event heading to an event the code does not have", () => {
    const eventName = /^[a-z]+(?::[a-z]+)?$/;
    const client = entries(section(doc, /^Client → server events$/)).headings.filter((name) => eventName.test(name));
    const server = entries(section(doc, /^Server → client events$/)).headings.filter((name) => eventName.test(name));
    expect(client.filter((name) => !clientEvents.includes(name))).toEqual([]);
    expect(server.filter((name) => !serverEvents.includes(name))).toEqual([]);
  });

  it("lists every error code with its HTTP status, and no other code", () => {
    const rows = doc
      .map((line) => /^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1]!, Number(match[2])] as const);
    expect(new Map(rows)).toEqual(new Map(ERROR_CODES.map((code) => [code, HTTP_STATUS[code]] as const)));
  });
});
