// Multi-page build: dist/vacuum-pressure.html and dist/experiments.html, served by the
// gateway at "/". `npm run dev` serves on :5174 and proxies the API to a gateway on :8002.
import { resolve } from "node:path";
import { defineConfig } from "vite";

const gateway = process.env.SPYMASTER_GATEWAY ?? "http://127.0.0.1:8002";

export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    rollupOptions: {
      input: {
        "vacuum-pressure": resolve(import.meta.dirname, "vacuum-pressure.html"),
        experiments: resolve(import.meta.dirname, "experiments.html"),
      },
    },
  },
  server: {
    port: 5174,
    proxy: {
      // the gateway accepts WebSocket origins of its own address only: present that one
      "/v1": { target: gateway, ws: true, changeOrigin: true, headers: { origin: gateway } },
      "/health": { target: gateway },
    },
  },
});
