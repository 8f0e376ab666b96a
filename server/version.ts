import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The `version` of the project's package.json: the nearest one above this module, so the answer is the same
 * whether the server runs from its sources or from a compiled copy in a subdirectory.
 */
export function packageVersion(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const { version } = JSON.parse(readFileSync(file, "utf8")) as { version?: unknown };
      if (typeof version !== "string") throw new Error(`${file} has no version`);
      return version;
    }
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
