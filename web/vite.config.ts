/**
 * The dashboard build: root is web/, output goes to dist/web at the repository root, where the
 * server's web routes serve it. `npm run build:web`; during development `vite --config
 * web/vite.config.ts` proxies /api to a running server (TIMEBOX_API_URL, default port 8420).
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));
const outDir = fileURLToPath(new URL('../dist/web', import.meta.url));

export default defineConfig({
  root: webRoot,
  base: '/',
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // No inline data: URLs for assets, so the Content-Security-Policy stays strict.
    assetsInlineLimit: 0,
  },
  server: {
    proxy: { '/api': { target: process.env.TIMEBOX_API_URL ?? 'http://127.0.0.1:8420' } },
  },
});
