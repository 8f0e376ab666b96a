import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The directory of the nearest package.json above `from`: the repository, whether the server runs from its
 * sources (`server/`) or compiled (`dist/server/`).
 */
export function projectRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/**
 * The built web client the server serves at `/`: `dist/web` of the repository (`npm run build`, or
 * `npm run build:web` for the client alone), the same directory from sources and compiled.
 */
export function webClientDir(root: string = projectRoot()): string {
  return join(root, "dist", "web");
}
