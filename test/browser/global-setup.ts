import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Builds the web client into dist/web (`npm run build:web`: a temporary directory renamed into place) before any
 * test file runs, so the servers the tests start serve the current client even on a fresh clone.
 */
export default function setup(): void {
  const script = fileURLToPath(new URL("../../scripts/build.mjs", import.meta.url));
  const result = spawnSync(process.execPath, [script, "--web"], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`npm run build:web failed:\n${result.stdout}${result.stderr}`);
}
