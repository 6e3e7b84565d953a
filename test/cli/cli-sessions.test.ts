/**
 * `timebox sessions watch | play | commands` against real pieces: the system OpenSSH client on a
 * terminal (ssh -tt) → `timebox gateway` (its own process) → a real sshd on a throwaway host; the
 * CLI runs as a child process, as an auditor would run it. Watching shows the shell as it is
 * typed and ends (with the reason on stderr) when the session is killed; playing writes exactly
 * what the person's client received; the commands typed are listed and found by search; a
 * requester is refused, an unknown session is exit code 4.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFailed } from 'vitest';
import { waitUntil } from '../agent/support.js';
import { addMember } from '../e2e/agent-support.js';
import { runArgv } from '../harness/sshd.js';
import { startGatewayRig, type GatewayRig, type Identity } from '../support/gateway.js';
import type { ApiClient } from '../support/http.js';
import { runCli, startCli } from './harness.js';

const T = '/api/v1/tenants/default';
const NO_SUCH_SESSION = '00000000-0000-4000-8000-000000000000';

describe('timebox sessions watch, play and commands through a real gateway', () => {
  let rig: GatewayRig;
  let ann: ApiClient; // requester with a grant, who connects
  let audrey: ApiClient; // auditor
  let annEnv: Record<string, string>;
  let audreyEnv: Record<string, string>;
  let id: Identity;
  let grantId = '';
  let watchedId = '';

  const envOf = async (client: ApiClient, name: string) => ({
    TIMEBOX_SERVER: rig.server.url,
    TIMEBOX_TOKEN: (await client.post('/api/v1/tokens', { name: 'cli' })).body.token as string,
    TIMEBOX_CONFIG: path.join(rig.dir, `${name}-cli.json`),
  });
  const shellSessions = async () =>
    ((await audrey.get(`${T}/gateway-sessions?grantId=${grantId}`)).body.items as Array<{ id: string; kind: string; live: boolean }>).filter((s) => s.kind === 'shell');

  beforeAll(async () => {
    rig = await startGatewayRig({ pgAdminUrl: inject('pgAdminUrl') });
    ann = await addMember(rig.server, 'ann@example.test', ['requester']);
    audrey = await addMember(rig.server, 'audrey@example.test', ['auditor']);
    annEnv = await envOf(ann, 'ann');
    audreyEnv = await envOf(audrey, 'audrey');
    const grant = await ann.post(`${T}/requests`, { targetId: rig.targetId, entitlements: ['users'], durationSeconds: 600, reason: 'INC-5150 restart nginx', accountName: 'tbclisess' });
    expect(grant.status, JSON.stringify(grant.body)).toBe(201);
    grantId = grant.body.id as string;
    await waitUntil('the account on the host', 30_000, async () => (await rig.ns.exec(['getent', 'passwd', 'tbclisess'])).code === 0);
    id = await rig.identity(ann, 'ann-cli');
    await waitUntil('a login through the gateway', 60_000, async () => (await runArgv('/usr/bin/ssh', rig.sshArgs('web-01', id, ['true']), { env: rig.sshEnv(), timeoutMs: 30_000 })).code === 0);
  }, 300_000);

  afterAll(async () => {
    await rig?.destroy();
  });

  it('watch shows the shell as it is typed and ends, saying why, when the session is killed', async () => {
    onTestFailed(() => console.error(rig.gw.output()));
    const ssh = spawn('/usr/bin/ssh', rig.sshArgs('web-01', id, [], ['-tt']), { env: { ...rig.sshEnv(), TERM: 'xterm' } });
    let annSaw = '';
    ssh.stdout.on('data', (d) => (annSaw += String(d)));
    const exited = new Promise<number | null>((resolve) => ssh.once('exit', (code) => resolve(code)));
    const type = (text: string) => ssh.stdin.write(text);
    watchedId = (await waitUntil('the shell is live', 20_000, async () => (await shellSessions()).find((s) => s.live) ?? null)).id;

    const watch = startCli(['sessions', 'watch', watchedId], { env: audreyEnv });
    // Half a command, before Enter, is already on the auditor's terminal.
    type('echo watch');
    await watch.shows(/echo watch/);
    type('ed-$((6*7))\r');
    await watch.shows(/watched-42/);
    type('systemctl restart nginx; echo step-$((2+1))\r');
    await watch.shows(/step-3/);

    // Ctrl-C stops a watcher, not the session.
    const second = startCli(['sessions', 'watch', watchedId], { env: audreyEnv });
    await second.shows(/step-3/);
    second.signal('SIGINT');
    const stopped = await second.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('timebox: stopped watching; the session is not affected');
    expect((await audrey.get(`${T}/gateway-sessions/${watchedId}`)).body.live).toBe(true);
    type('echo still-$((1+1))\r');
    await watch.shows(/still-2/);

    const killed = await runCli(['sessions', 'kill', watchedId], { env: audreyEnv });
    expect(killed.code, killed.stderr).toBe(0);
    const watched = await watch.done;
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toContain(`timebox: session ${watchedId} has ended: terminated by an administrator.`);
    expect(await exited).not.toBe(0);
    // What the auditor's terminal was given is what the person's terminal was given, up to the kill.
    expect(annSaw.startsWith(watched.stdout)).toBe(true);
    expect(watched.stdout).toContain('watched-42');

    // A finished session: the whole recording, then its end.
    const again = await runCli(['sessions', 'watch', watchedId], { env: audreyEnv });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(watched.stdout);
    expect(again.stderr).toContain('terminated by an administrator');
  }, 180_000);

  it('play --no-wait writes exactly what the client received', async () => {
    const before = new Set((await shellSessions()).map((s) => s.id));
    const shell = await runArgv('/usr/bin/ssh', rig.sshArgs('web-01', id, [], ['-tt']), { env: rig.sshEnv(), timeoutMs: 30_000, input: 'echo played-$((40+2))\nexit\n' });
    expect(shell.stdout).toContain('played-42');
    const session = await waitUntil('the shell session ended', 20_000, async () => (await shellSessions()).find((s) => !before.has(s.id) && !s.live) ?? null);
    const played = await runCli(['sessions', 'play', session.id, '--no-wait'], { env: audreyEnv });
    expect(played.code, played.stderr).toBe(0);
    expect(played.stdout).toBe(shell.stdout);
    expect(played.stderr).toBe('');
    // --speed 0 is the same; a bad speed is a usage error.
    expect((await runCli(['sessions', 'play', session.id, '--speed', '0'], { env: audreyEnv })).stdout).toBe(shell.stdout);
    const bad = await runCli(['sessions', 'play', session.id, '--speed', 'fast'], { env: audreyEnv });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--speed must be a number from 0 to 1000');
  }, 120_000);

  it('commands lists what was typed; --search finds it across sessions', async () => {
    expect(watchedId).not.toBe('');
    const typed = ['echo watched-$((6*7))', 'systemctl restart nginx; echo step-$((2+1))', 'echo still-$((1+1))'];
    const json = await runCli(['sessions', 'commands', watchedId, '--json'], { env: audreyEnv });
    expect(json.code, json.stderr).toBe(0);
    expect((JSON.parse(json.stdout) as Array<{ text: string }>).map((c) => c.text)).toEqual(typed);
    const text = await runCli(['sessions', 'commands', watchedId], { env: audreyEnv });
    expect(text.stdout).toMatch(/^AT\s+COMMAND\n/);
    expect(text.stdout).toMatch(/\n\d+:\d\d\s+systemctl restart nginx; echo step-\$\(\(2\+1\)\)\n/);

    const found = await runCli(['sessions', 'commands', '--search', 'systemctl restart'], { env: audreyEnv });
    expect(found.code, found.stderr).toBe(0);
    const row = found.stdout.split('\n').find((l) => l.startsWith(watchedId));
    expect(row).toMatch(/ann@example\.test\s+web-01\s+tbclisess\s+.+systemctl restart nginx; echo step-\$\(\(2\+1\)\)$/);
    const asJson = await runCli(['--output', 'json', 'sessions', 'commands', '--search', 'SYSTEMCTL'], { env: audreyEnv });
    expect(JSON.parse(asJson.stdout)).toEqual([expect.objectContaining({ sessionId: watchedId, operatorEmail: 'ann@example.test', targetName: 'web-01', text: typed[1]! })]);
    const none = await runCli(['sessions', 'commands', '--search', 'reboot now'], { env: audreyEnv });
    expect(none.stdout).toBe('No command typed in a session contains "reboot now".\n');
    const neither = await runCli(['sessions', 'commands'], { env: audreyEnv });
    expect(neither.code).toBe(2);
  }, 120_000);

  it('a requester is refused; an unknown session is not found (exit 4)', async () => {
    expect(watchedId).not.toBe('');
    for (const args of [
      ['sessions', 'watch', watchedId],
      ['sessions', 'play', watchedId, '--no-wait'],
      ['sessions', 'commands', watchedId],
      ['sessions', 'commands', '--search', 'systemctl'],
    ]) {
      const r = await runCli(args, { env: annEnv });
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(r.stderr, args.join(' ')).toMatch(/^timebox: you need the audit\.read permission in tenant default/);
    }
    for (const args of [
      ['sessions', 'watch', NO_SUCH_SESSION],
      ['sessions', 'play', NO_SUCH_SESSION, '--no-wait'],
      ['sessions', 'commands', NO_SUCH_SESSION],
    ]) {
      const r = await runCli(args, { env: audreyEnv });
      expect(r.code, args.join(' ')).toBe(4);
      expect(r.stderr, args.join(' ')).toContain(NO_SUCH_SESSION);
    }
  }, 120_000);
});
