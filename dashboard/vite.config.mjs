// Builds the operations dashboard into dist/dashboard, which the api serves at `/` (apps/api/src/dashboard.ts).
// Run after `nest build` (it empties dist/). Preact's JSX through esbuild: no Babel, no plugin.
import { fileURLToPath, URL } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // One small bundle; no inline scripts or styles (the page's CSP allows only 'self').
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  logLevel: 'warn',
});
