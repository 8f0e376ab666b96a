// `npm run build`: the server (server/ and shared/, compiled by tsc with tsconfig.build.json) into dist/server and
// dist/shared, and the web client (Vite) into dist/web, for `node dist/server/main.js` with no TypeScript loader.
// `npm run build:web` (`--web`): the web client only, into dist/web.
//
// Nothing is written in place: the output goes to a new directory next to its target (`dist.build-<pid>`), which
// then takes the target's name by rename. A server already running from dist/ keeps the files it opened, and a
// request never meets a half-written client. Plain JavaScript, so that it runs before anything is compiled.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The repository: the parent of scripts/. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Where `npm run build` writes. */
export const DIST = join(ROOT, "dist");
/** The file a complete build writes last; its modification time is the build's. */
export const STAMP = join(DIST, "build.json");

const require = createRequire(import.meta.url);

/** The JS file behind a package's command, run with this Node (as in scripts/dev.mjs). */
function bin(pkg, name) {
  const manifest = require.resolve(`${pkg}/package.json`);
  const { bin: bins } = JSON.parse(readFileSync(manifest, "utf8"));
  return join(dirname(manifest), typeof bins === "string" ? bins : bins[name]);
}

/** Compiles the server into `outDir` (dist/server, dist/shared below it). Throws with tsc's output on errors. */
function compileServer(outDir) {
  const result = spawnSync(
    process.execPath,
    [bin("typescript", "tsc"), "-p", join(ROOT, "tsconfig.build.json"), "--outDir", outDir],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (result.status !== 0) throw new Error(`tsc failed:\n${result.stdout}${result.stderr}`);
}

/** Builds the web client into `outDir` with web/vite.config.ts. */
async function buildWeb(outDir) {
  // A production build whatever NODE_ENV the shell (or vitest, with `test`) has: Vite keeps a NODE_ENV it finds,
  // and with `test` or `development` the bundle is a development one (130 KB instead of 124 KB).
  process.env.NODE_ENV = "production";
  // Vite is loaded from the repository's own node_modules, and only when there is something to build.
  const { build } = await import(pathToFileURL(require.resolve("vite")).href);
  await build({
    configFile: join(ROOT, "web", "vite.config.ts"),
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
}

/**
 * Gives `fresh` the name `target`: one rename when `target` does not exist, else `target` steps aside first and
 * is removed after (the two renames leave `target` missing for microseconds; nothing is ever half written).
 */
function swapInto(fresh, target) {
  try {
    renameSync(fresh, target);
    return;
  } catch (error) {
    if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST" && error.code !== "EISDIR") throw error;
  }
  const old = `${target}.old-${process.pid}`;
  rmSync(old, { recursive: true, force: true });
  renameSync(target, old);
  renameSync(fresh, target);
  rmSync(old, { recursive: true, force: true });
}

/**
 * Builds into a temporary directory next to the target and renames it into place.
 * @param {{ web?: boolean }} options `web`: the web client only (into dist/web).
 */
export async function buildAll({ web = false } = {}) {
  const target = web ? join(DIST, "web") : DIST;
  mkdirSync(dirname(target), { recursive: true });
  const temp = `${target}.build-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  try {
    const started = Date.now();
    if (web) {
      await buildWeb(temp);
    } else {
      compileServer(temp);
      await buildWeb(join(temp, "web"));
      const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
      writeFileSync(join(temp, "build.json"), `${JSON.stringify({ version, builtAt: new Date().toISOString() })}\n`);
    }
    swapInto(temp, target);
    return { target, ms: Date.now() - started };
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const web = process.argv.includes("--web");
  try {
    const { target, ms } = await buildAll({ web });
    process.stdout.write(`build: ${web ? "web client" : "server and web client"} in ${target} (${ms} ms)\n`);
  } catch (error) {
    process.stderr.write(`build: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
