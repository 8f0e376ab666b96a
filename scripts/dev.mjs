// `npm run dev`: the API server (restarted on change by `tsx watch`) and Vite's dev server for the web client,
// which proxies /socket.io, /api and /files to it. Ctrl+C, or either process ending, stops both.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

/** The JS file behind a package's command, run with this Node (no shell, no npx, works on every OS). */
function bin(pkg, name) {
  const manifest = require.resolve(`${pkg}/package.json`);
  const { bin: bins } = JSON.parse(readFileSync(manifest, "utf8"));
  return join(dirname(manifest), typeof bins === "string" ? bins : bins[name]);
}

const host = process.env.HOST || "127.0.0.1";
const port = process.env.PORT || "3000";
const api = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

const children = [
  spawn(process.execPath, [bin("tsx", "tsx"), "watch", "--clear-screen=false", "server/main.ts"], { stdio: "inherit" }),
  spawn(process.execPath, [bin("vite", "vite"), "--config", "web/vite.config.ts"], {
    stdio: "inherit",
    env: { ...process.env, CHAT_API_URL: api },
  }),
];

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  process.exitCode = code;
}

for (const child of children) {
  child.on("exit", (code, signal) => stop(code ?? (signal ? 1 : 0)));
  child.on("error", (error) => {
    console.error(`dev: ${error.message}`);
    stop(1);
  });
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(0));
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});
