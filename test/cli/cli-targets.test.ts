/**
 * Targets from the CLI as an admin would: a target whose test fails is refused with what failed and
 * nothing is stored; `--save-unchecked` stores it, listed broken; `targets delete` removes it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { apiLogin, closedPort, runCli, startTestServer, type TestServer } from './harness.js';

let server: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  const token = await apiLogin(server);
  env = { TIMEBOX_CONFIG: `${server.dir}/cli.json`, TIMEBOX_SERVER: server.url, TIMEBOX_TOKEN: token };
});
afterAll(async () => {
  await server?.close();
});

it('refuses a target that fails its test, saves it on --save-unchecked, and deletes it', async () => {
  const port = await closedPort();
  const config = JSON.stringify({ host: '127.0.0.1', port, user: 'timebox_svc', password: 'pw-1', connectTimeoutMs: 2000 });
  const refused = await runCli(['targets', 'add', '--name', 'down-db', '--kind', 'postgres', '--config', config], { env });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toMatch(/not saved: the connection test failed \(connection: /);
  // In this command's words: its flag, not the API's field name.
  expect(refused.stderr).toContain('add --save-unchecked to save them anyway');
  expect(refused.stderr).not.toContain('saveUnchecked');
  expect((await runCli(['targets', 'list', '--json'], { env })).stdout).not.toContain('down-db');

  const saved = await runCli(['targets', 'add', '--name', 'down-db', '--kind', 'postgres', '--config', config, '--save-unchecked'], { env });
  expect(saved.code, saved.stderr).toBe(0);
  expect(saved.stderr).toContain('saved unchecked, the target is listed broken');
  const listed = JSON.parse((await runCli(['targets', 'list', '--json'], { env })).stdout) as { items?: { name: string; broken: boolean }[] } | { name: string; broken: boolean }[];
  const items = Array.isArray(listed) ? listed : listed.items!;
  expect(items.find((t) => t.name === 'down-db')?.broken).toBe(true);
  const table = (await runCli(['targets', 'list'], { env })).stdout;
  expect(table).toMatch(/^\S+ +down-db +postgres +broken \(timebox targets check\)/m);

  const deleted = await runCli(['targets', 'delete', 'down-db'], { env });
  expect(deleted.code, deleted.stderr).toBe(0);
  expect(deleted.stdout).toContain('Deleted target down-db (postgres);');
  expect((await runCli(['targets', 'list', '--json'], { env })).stdout).not.toContain('down-db');
});
