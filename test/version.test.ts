import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { packageVersion } from "../server/version.js";
import { cleanup, startServer, tempDir } from "./support/harness.js";

afterEach(cleanup);

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

describe("version", () => {
  it("is the same in package.json, the README changelog's newest heading and GET /api/version", async () => {
    const { version } = JSON.parse(read("package.json")) as { version: string };
    const readme = read("README.md");
    const changelog = readme.slice(readme.indexOf("\n## Changelog\n"));
    const newest = /^### (\d+\.\d+\.\d+)\b/m.exec(changelog)?.[1];
    const lock = JSON.parse(read("package-lock.json")) as { version: string };
    const server = await startServer();
    const response = await server.server.app.inject({ method: "GET", url: "/api/version" });
    expect(response.statusCode).toBe(200);
    expect({ changelog: newest, lock: lock.version, route: response.json<{ version: string }>().version }).toEqual({
      changelog: version,
      lock: version,
      route: version,
    });
  });

  it("is read from the nearest package.json above the module, as from a compiled copy in a subdirectory", () => {
    const root = tempDir();
    writeFileSync(join(root, "package.json"), JSON.stringify({ name: "x", version: "9.8.7" }));
    mkdirSync(join(root, "dist", "server"), { recursive: true });
    expect(packageVersion(join(root, "dist", "server"))).toBe("9.8.7");
  });
});
