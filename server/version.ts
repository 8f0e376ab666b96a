import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { projectRoot } from "./project.js";

/**
 * The `version` of the project's package.json: the nearest one above this module, so the answer is the same
 * whether the server runs from its sources or from a compiled copy in a subdirectory.
 */
export function packageVersion(from: string = dirname(fileURLToPath(import.meta.url))): string {
  const file = join(projectRoot(from), "package.json");
  const { version } = JSON.parse(readFileSync(file, "utf8")) as { version?: unknown };
  if (typeof version !== "string") throw new Error(`${file} has no version`);
  return version;
}
