// The operators' console: built into dist/ and served by the server at /console.
import { defineConfig } from "vite";

export default defineConfig({
  root: "console",
  base: "/console/",
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    assetsDir: "assets",
    chunkSizeWarningLimit: 600,
  },
  test: {
    include: ["src/**/*.test.js"],
    environment: "node",
  },
});
