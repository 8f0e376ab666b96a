import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
/** Where `npm run dev` finds the API server (scripts/dev.mjs sets it). @default http://127.0.0.1:3000 */
const api = process.env.CHAT_API_URL ?? "http://127.0.0.1:3000";

/**
 * Builds the web client into dist/web, which the server serves at `/` (`npm run build` and `npm run build:web`
 * build into a temporary directory and rename it into place); `npm run dev` proxies the API.
 */
export default defineConfig({
  root,
  build: { outDir: "../dist/web", emptyOutDir: true, target: "es2022", reportCompressedSize: false },
  server: {
    host: "127.0.0.1",
    proxy: {
      "/socket.io": { target: api, ws: true },
      "/api": api,
      "/files": api,
    },
  },
});
