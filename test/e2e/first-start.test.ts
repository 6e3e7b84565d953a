/**
 * The first owner's password is shown once, by the start that creates it. A first start that
 * fails (its port already taken) must therefore create nothing: the next start, on a free port,
 * creates the owner and shows the password, and it signs in. (A newcomer hit this: the failed
 * start had created the owner unseen, and no later start showed a password.)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startTimebox, type Timebox } from '../../src/server/start.js';
import { seedDataDir } from '../harness/pglite-template.js';

let dir: string;
let tb: Timebox | undefined;
let busy: net.Server | undefined;

afterAll(async () => {
  await tb?.close();
  await new Promise((r) => (busy ? busy.close(r) : r(undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a first start that cannot listen creates no owner; the next one shows the password once', async () => {
  dir = await mkdtemp(join(tmpdir(), 'timebox-first-start-'));
  await seedDataDir(dir);
  busy = net.createServer();
  await new Promise<void>((r) => busy!.listen(0, '127.0.0.1', r));
  const port = (busy.address() as net.AddressInfo).port;
  const env = { HOST: '127.0.0.1', TIMEBOX_DATA_DIR: dir, TIMEBOX_MASTER_KEY: randomBytes(32).toString('base64'), TIMEBOX_LOG_LEVEL: 'silent' };

  await expect(startTimebox({ env: { ...env, PORT: String(port) } })).rejects.toMatchObject({ code: 'EADDRINUSE' });

  tb = await startTimebox({ env: { ...env, PORT: '0' } });
  expect(tb.bootstrap?.email).toBe('admin@localhost');
  const login = await fetch(new URL('/api/v1/auth/login', tb.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(tb.bootstrap),
  });
  expect(login.status).toBe(200);
});
