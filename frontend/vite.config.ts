import { defineConfig } from "vite";

// The bundle is kept in the repository (frontend/static/wirelab/app) so `make run` needs no
// Node.js; file names carry no hashes so a rebuild of unchanged sources changes nothing.
export default defineConfig({
  build: {
    outDir: "static/wirelab/app",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: "src/main.ts",
      output: {
        entryFileNames: "editor.js",
        chunkFileNames: "[name].js",
        assetFileNames: (asset) => (asset.name?.endsWith(".css") ? "editor.css" : "[name][extname]"),
        inlineDynamicImports: true,
      },
    },
  },
});
