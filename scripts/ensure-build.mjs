// `npm start` runs this first (`prestart`): it builds (scripts/build.mjs) only when dist/ is missing or older than
// the sources, so a fresh clone needs only `npm install && npm start`, and a start with nothing changed costs a
// walk over the source tree's modification times (a few ms).
//
// When PORT is already taken, presumably by a server running from this dist/, it touches nothing and leaves the
// server to stop with its one-line hint naming PORT: a second start never rebuilds under a running server.
import { existsSync, readdirSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { buildAll, DIST, ROOT, STAMP } from "./build.mjs";

/** What the build reads: a change to any of these makes dist/ stale. */
const SOURCES = [
  "server",
  "shared",
  "client",
  "web",
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  "tsconfig.build.json",
  "scripts/build.mjs",
];
/** Directories below the sources that are output or dependencies, never input. */
const SKIP = new Set(["node_modules", "dist"]);

/** The newest modification time (ms) among `path` and, for a directory, everything below it. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch (error) {
    if (error.code === "ENOENT") return 0;
    throw error;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory() && SKIP.has(entry.name)) continue;
    latest = Math.max(latest, newest(join(path, entry.name)));
  }
  return latest;
}

/** Why dist/ must be (re)built, or undefined when it is up to date. */
function staleness() {
  if (
    !existsSync(STAMP) ||
    !existsSync(join(DIST, "server", "main.js")) ||
    !existsSync(join(DIST, "web", "index.html"))
  )
    return "dist/ is missing or incomplete";
  const built = statSync(STAMP).mtimeMs;
  const changed = SOURCES.find((source) => newest(join(ROOT, source)) > built);
  return changed === undefined ? undefined : `${changed} changed since the last build`;
}

/** Whether something listens on `host:port` (the server's PORT and HOST, with its defaults). */
function portTaken(host, port) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (error) => resolve(error.code === "EADDRINUSE"));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(false)));
  });
}

// The server's own defaults (server/config.ts); a blank variable counts as unset there too. An invalid PORT is
// left to the server, which names it.
const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || "127.0.0.1";
const reason = staleness();
if (reason !== undefined) {
  if (Number.isInteger(port) && port > 0 && port <= 65535 && (await portTaken(host, port))) {
    // The server prints the hint (port in use, set PORT) and exits 1. Without a compiled server, say it here.
    process.stderr.write(`build: not rebuilt while port ${port} is in use (${reason})\n`);
    if (!existsSync(join(DIST, "server", "main.js"))) {
      process.stderr.write(
        `chat server: port ${port} is in use (PORT=${port}); set PORT to a free port, or stop the other server\n`,
      );
      process.exit(1);
    }
  } else {
    process.stdout.write(`build: ${reason}; building (npm run build)\n`);
    try {
      const { ms } = await buildAll();
      process.stdout.write(`build: done in ${ms} ms\n`);
    } catch (error) {
      process.stderr.write(`build: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    }
  }
}
