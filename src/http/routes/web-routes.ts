/**
 * The dashboard: the built SPA (`vite build` → dist/web) served by the API server itself.
 * Hashed files under /assets/ are cached for a year; index.html is answered for every other GET
 * that is not an API path or a file, so client routes survive a reload. HTML carries a strict
 * Content-Security-Policy: scripts, styles and connections from this origin only.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { RouteModule } from '../server.js';

export interface WebRoutesOptions {
  /** The folder `vite build` wrote (holds index.html and assets/). */
  distDir: string;
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  // WebAssembly only (the playback's terminal emulator), never eval of script.
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const IMMUTABLE = 'public, max-age=31536000, immutable';

/** dist/web of the package this file belongs to (from src/ under tsx as from dist/ when built). */
export function defaultWebDir(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return join(dir, 'dist', 'web');
}

const pathOf = (url: string) => url.split('?')[0] ?? '/';
/**
 * A path the server's own endpoints own, never a dashboard page: the API (also spelt with doubled
 * slashes), and the health and metrics endpoints with a trailing slash. A dashboard path never
 * starts with "//".
 */
const isApiPath = (path: string) => {
  const p = path.replace(/\/{2,}/g, '/');
  return path.startsWith('//') || p === '/api' || p.startsWith('/api/') || /^\/(healthz|metrics)\/$/.test(p);
};
/** A last path segment with an extension asks for a file: a missing file is a 404, not the app. */
const looksLikeFile = (path: string) => /\.[A-Za-z0-9]{1,8}$/.test(path.slice(path.lastIndexOf('/') + 1));

export const webRoutes =
  (opts: WebRoutesOptions): RouteModule =>
  async (app) => {
    const built = existsSync(join(opts.distDir, 'index.html'));
    if (!built) app.log.warn({ distDir: opts.distDir }, 'the dashboard is not built (npm run build:web); only the API is served');

    // The SPA's files and shell are public; the API calls it makes are not.
    app.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), public: true };
    });
    // Runs after the server-wide hook that marks every response no-store.
    app.addHook('onSend', async (request, reply, payload) => {
      const path = pathOf(request.url);
      const type = String(reply.getHeader('content-type') ?? '');
      if (reply.statusCode === 200 && path.startsWith('/assets/')) reply.header('cache-control', IMMUTABLE);
      else if (reply.statusCode === 200) reply.header('cache-control', 'no-cache');
      if (type.startsWith('text/html')) {
        reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
        reply.header('x-frame-options', 'DENY');
        reply.header('referrer-policy', 'no-referrer');
      }
      return payload;
    });

    if (built) {
      // Files are listed once at start (wildcard: false): the build does not change under a running server.
      await app.register(fastifyStatic, { root: opts.distDir, wildcard: false, cacheControl: false, serveDotFiles: false });
    }

    app.get('/*', { schema: { hide: true } }, async (request, reply) => {
      const path = pathOf(request.url);
      if (isApiPath(path) || looksLikeFile(path)) {
        return reply
          .status(404)
          .send({ error: { code: 'not_found', message: `no route ${request.method} ${path.slice(0, 200)}` } });
      }
      if (!built) {
        return reply.status(503).type('text/plain; charset=utf-8').send('The dashboard is not built. Run: npm run build:web\n');
      }
      return reply.type('text/html; charset=utf-8').sendFile('index.html');
    });
  };
