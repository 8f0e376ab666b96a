import { fileURLToPath } from "node:url";
import { build } from "vite";

/**
 * Builds the web client into web/dist before any test file runs, so the servers the tests start serve the
 * current client (the server picks web/dist when it holds an index.html) even on a fresh clone.
 */
export default async function setup(): Promise<void> {
  await build({ configFile: fileURLToPath(new URL("../../web/vite.config.ts", import.meta.url)), logLevel: "warn" });
}
