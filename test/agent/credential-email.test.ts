/**
 * Credential delivery from the endpoint over real SMTP (STARTTLS required, AUTH): the user gets
 * their username, password and end time; a failed delivery is retried with a fresh password (the
 * undelivered one is replaced); no password ever reaches the log stream, the journal, the
 * schedule or an error message, even when the SMTP server echoes the message back.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialDeliveryError, SmtpCredentialDelivery } from '../../src/agent/deliver-credentials.js';
import { agentLogger, startAgent, type AgentHandle } from '../../src/agent/main.js';
import { createHostNamespace, type HostNamespace } from '../harness/host-namespace.js';
import { credentialsFrom, startSmtpCatcher, type SmtpCatcher } from './smtp-catcher.js';
import { hostUsers, iso, makeStateDir, readJournal, startHostWorker, waitForJournal, writeDesiredState, type WorkerHost } from './support.js';

let smtp: SmtpCatcher;

beforeAll(async () => {
  smtp = await startSmtpCatcher();
});

afterAll(async () => {
  await smtp?.close();
});

const smtpSettings = (overrides: Partial<{ pass: string }> = {}) => ({
  host: '127.0.0.1',
  port: smtp.port,
  requireStartTls: true,
  auth: { user: smtp.user, pass: overrides.pass ?? smtp.pass },
  from: 'timebox@example.test',
  caPem: smtp.caPem,
});

const message = (to: string, password: string) => ({
  to,
  username: 'tbq2w3e4r5',
  password,
  hostName: 'endpoint-9',
  startAt: new Date('2026-03-30T22:00:00Z'),
  endAt: new Date('2026-03-30T22:31:00Z'),
  endAction: 'delete' as const,
});

describe('SmtpCredentialDelivery', () => {
  it('sends username, password and end time over STARTTLS with AUTH', async () => {
    await new SmtpCredentialDelivery(smtpSettings()).deliver(message('dana@example.test', 'Pw-Only.In~The+Mail=1'));
    const mail = await smtp.waitForMessage('dana@example.test', 5_000);
    expect(credentialsFrom(mail)).toEqual({ username: 'tbq2w3e4r5', password: 'Pw-Only.In~The+Mail=1' });
    expect(mail.subject).toBe('Your temporary account on endpoint-9');
    expect(mail.text).toContain('until 2026-03-30 22:31:00 UTC');
    expect(mail.text).toContain('the account is deleted');
    expect(smtp.allSecure()).toBe(true);
  });

  it('redacts the password from errors, even when the server echoes the message', async () => {
    smtp.rejectNext(1);
    const password = 'Echoed-Secret.Pw~42';
    const err = await new SmtpCredentialDelivery(smtpSettings()).deliver(message('eve@example.test', password)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialDeliveryError);
    expect(smtp.rejected.at(-1)!.text).toContain(password); // the server did echo it
    expect((err as Error).message).toContain('Password: [redacted]');
    expect((err as Error).message).not.toContain(password);
    expect((err as Error).cause).toBeUndefined();
  });

  it('does not leak the SMTP password when authentication fails', async () => {
    const wrong = 'Wrong-Smtp-Pass.123';
    const err = await new SmtpCredentialDelivery(smtpSettings({ pass: wrong })).deliver(message('fay@example.test', 'Pw-Never.Sent-1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialDeliveryError);
    expect((err as Error).message).toMatch(/EAUTH|auth/i);
    expect((err as Error).message).not.toContain(wrong);
  });
});

describe('the agent delivering credentials', () => {
  let ns: HostNamespace;
  let host: WorkerHost;
  let stateDir: string;
  let agent: AgentHandle | undefined;

  beforeAll(async () => {
    ns = await createHostNamespace();
    host = await startHostWorker(ns);
    stateDir = await makeStateDir();
  });

  afterAll(async () => {
    await agent?.stop();
    await host?.close();
    await ns?.destroy();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('retries a refused delivery with a new password and logs no password anywhere', async () => {
    const logLines: string[] = [];
    const capture = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logLines.push(chunk.toString('utf8'));
        cb();
      },
    });
    const start = Date.now() + 4_000;
    const end = start + 2_000;
    const scheduleFile = path.join(stateDir, 'desired.json');
    await writeDesiredState(scheduleFile, 1, [
      { grantId: 'mail-1', kind: 'local-account', startAt: iso(start), endAt: iso(end), enableLeadSeconds: 1, endAction: 'delete', passwordDelivery: { channel: 'email', to: 'cy@example.test' } },
    ]);
    smtp.rejectNext(1);
    const rejectedBefore = smtp.rejected.length;
    // In this process (so the pino stream can be captured), host operations inside the namespace.
    agent = await startAgent({ stateDir, scheduleFile, host, logger: agentLogger(capture), config: { smtp: smtpSettings(), hostName: 'endpoint-2' }, filePollMs: 100 });

    const mail = await smtp.waitForMessage('cy@example.test', 30_000);
    const delivered = credentialsFrom(mail);
    const refused = credentialsFrom(smtp.rejected[rejectedBefore]!);
    expect(refused.username).toBe(delivered.username);
    expect(refused.password).not.toBe(delivered.password); // the undelivered password was replaced
    expect(mail.text).toContain(`until ${new Date(end).toISOString().replace('T', ' ').slice(0, 19)} UTC`);
    const account = await host.getAccount(delivered.username);
    expect(account).toMatchObject({ locked: true });

    await waitForJournal(stateDir, 'ended', end - Date.now() + 10_000, (e) => e.event === 'ended');
    expect(await host.getAccount(delivered.username)).toBeNull();
    const journal = await readJournal(stateDir);
    expect(journal.find((e) => e.event === 'error')!.message).toContain('Password: [redacted]');
    expect(journal.map((e) => e.event)).toEqual(expect.arrayContaining(['accepted', 'credentials-delivered', 'provisioned', 'activated', 'ended']));

    const logs = logLines.join('');
    expect(logs).toContain('credentials-delivered');
    const everything = [logs, JSON.stringify(journal), await readFile(path.join(stateDir, 'schedule.json'), 'utf8')].join('\n');
    for (const secret of [delivered.password, refused.password, smtp.pass]) expect(everything).not.toContain(secret);
    expect((await hostUsers()).has(delivered.username)).toBe(false);
  });
});
