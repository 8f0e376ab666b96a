import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

/** Builds the web client into web/dist, which the server serves at `/`; `npm run dev` proxies the API. */
export default defineConfig({
  root,
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
  server: {
    proxy: {
      "/socket.io": { target: "http://127.0.0.1:3000", ws: true },
      "/api": "http://127.0.0.1:3000",
      "/files": "http://127.0.0.1:3000",
    },
  },
});
