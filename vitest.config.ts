import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The servers under test serve the built web client: build it once per run.
    globalSetup: ["test/browser/global-setup.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores: files run in parallel, each starting its own servers on port 0.
    pool: "forks",
  },
});
