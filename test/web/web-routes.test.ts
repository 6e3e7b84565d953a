/**
 * Serving the dashboard: the SPA's files with immutable caching for hashed assets, index.html
 * (with a strict Content-Security-Policy) for client routes, and never the SPA for /api paths or
 * missing files. The API keeps its own authentication.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../src/http/testing.js';
import { CONTENT_SECURITY_POLICY, defaultWebDir, webRoutes } from '../../src/http/routes/web-routes.js';

describe('web routes', () => {
  let dist: string;
  let t: TestApp;

  beforeAll(async () => {
    dist = await mkdtemp(join(tmpdir(), 'timebox-dist-'));
    await mkdir(join(dist, 'assets'));
    await writeFile(join(dist, 'index.html'), '<!doctype html><title>Timebox</title><script type="module" src="/assets/index-Ab12Cd.js"></script>');
    await writeFile(join(dist, 'assets', 'index-Ab12Cd.js'), 'console.log("app")');
    await writeFile(join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    t = await createTestApp({ routes: [webRoutes({ distDir: dist })] });
  });

  afterAll(async () => {
    await t?.close();
    await rm(dist, { recursive: true, force: true });
  });

  it('serves index.html with a strict CSP at / and for client routes', async () => {
    for (const url of ['/', '/t/default/jit-accounts', '/t/default/jit-accounts/activate?x=1', '/sign-in']) {
      const res = await t.request({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body).toContain('<title>Timebox</title>');
      expect(res.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
  });

  it('caches hashed assets for a year and other files only with revalidation', async () => {
    const js = await t.request({ method: 'GET', url: '/assets/index-Ab12Cd.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-security-policy']).toBeUndefined();
    const icon = await t.request({ method: 'GET', url: '/favicon.svg' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('answers 404, never the SPA, for API paths and missing files', async () => {
    for (const url of ['/api/v1/nothing-here', '/api', '/assets/gone-123.js', '/robots.txt', '//api/v1/me', '/healthz/', '/metrics/', '//t/default']) {
      const res = await t.request({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toMatch(/json/);
      expect(res.json().error.code).toBe('not_found');
    }
  });

  it('leaves the API protected and the OpenAPI document free of SPA routes', async () => {
    expect((await t.request({ method: 'GET', url: '/api/v1/me' })).statusCode).toBe(401);
    const doc = (await t.request({ method: 'GET', url: '/api/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths).filter((p) => !p.startsWith('/api/') && p !== '/healthz')).toEqual([]);
  });

  it('serves only the API, with a hint, when the dashboard is not built', async () => {
    // The module alone, without database or auth: it must register and answer.
    const bare = Fastify({ logger: false }).withTypeProvider<ZodTypeProvider>();
    try {
      await bare.register(async (scope) => webRoutes({ distDir: join(dist, 'missing') })(scope.withTypeProvider<ZodTypeProvider>()));
      const res = await bare.inject({ method: 'GET', url: '/t/default/audit' });
      expect(res.statusCode).toBe(503);
      expect(res.body).toContain('npm run build:web');
      expect((await bare.inject({ method: 'GET', url: '/api/v1/x' })).statusCode).toBe(404);
    } finally {
      await bare.close();
    }
  });

  it('finds dist/web of the package by default', () => {
    expect(defaultWebDir().replaceAll('\\', '/')).toMatch(/\/dist\/web$/);
  });
});
