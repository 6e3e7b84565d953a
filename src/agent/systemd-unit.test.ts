import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_UNIT_NAME, agentExecStart, execArg, renderAgentUnit } from './systemd-unit.js';

const script = path.resolve('bin/timebox-agent.js');
const lines = (unit: string) => unit.split('\n');
const setting = (unit: string, key: string) => lines(unit).filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

describe('the agent systemd unit', () => {
  const unit = renderAgentUnit({ nodePath: process.execPath, scriptPath: script, stateDir: '/var/lib/timebox-agent' });

  it('runs `timebox-agent run` with absolute node and script paths and the state directory, restarting always', () => {
    expect(setting(unit, 'ExecStart')).toEqual([`${process.execPath} ${script} run --state-dir /var/lib/timebox-agent`]);
    expect(setting(unit, 'Restart')).toEqual(['always']);
    expect(setting(unit, 'After')).toEqual(['network-online.target']);
    expect(setting(unit, 'Wants')).toEqual(['network-online.target']);
    expect(setting(unit, 'User')).toEqual(['root']);
    expect(setting(unit, 'WantedBy')).toEqual(['multi-user.target']);
    expect(lines(unit)).toEqual(expect.arrayContaining(['[Unit]', '[Service]', '[Install]']));
  });

  it('keeps the sandbox off what useradd, sudoers and kill need', () => {
    for (const key of ['ProtectSystem', 'ProtectHome', 'NoNewPrivileges', 'CapabilityBoundingSet', 'SystemCallFilter', 'ProtectProc', 'ReadOnlyPaths']) {
      expect(setting(unit, key), key).toEqual([]);
    }
    for (const key of ['PrivateTmp', 'ProtectKernelModules', 'ProtectControlGroups', 'RestrictNamespaces']) expect(setting(unit, key), key).toEqual(['yes']);
  });

  it('quotes paths with spaces, % and $ so they reach the process unchanged, and refuses relative paths', () => {
    expect(execArg('/opt/time box/main.js')).toBe('"/opt/time box/main.js"');
    expect(execArg('/srv/100%/x')).toBe('"/srv/100%%/x"');
    expect(execArg('/srv/$HOME "q"')).toBe('"/srv/$$HOME \\"q\\""');
    expect(() => execArg('/a\nExecStartPre=/bin/sh')).toThrow(/control character/);
    expect(() => agentExecStart({ nodePath: 'node', scriptPath: script, stateDir: '/var/lib/x' })).toThrow(/absolute/);
    expect(agentExecStart({ nodePath: '/usr/bin/node', scriptPath: script, stateDir: '/var/lib/x', configFile: '/etc/timebox/agent.json' }).slice(-2)).toEqual([
      '--config',
      '/etc/timebox/agent.json',
    ]);
  });

  // systemd-analyze parses the file as systemd itself would (and checks ExecStart's binary exists);
  // the test setup installs it (package systemd), so this check always runs.
  it('passes systemd-analyze verify', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tb-unit-'));
    try {
      const file = path.join(dir, AGENT_UNIT_NAME);
      await writeFile(file, renderAgentUnit({ nodePath: process.execPath, scriptPath: script, stateDir: '/var/lib/timebox-agent' }));
      const r = await new Promise<{ code: number; output: string }>((resolve) =>
        execFile('systemd-analyze', ['verify', file], (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
        ),
      );
      expect(r.code, r.output).toBe(0);
      // Unknown or misspelled settings are only warnings to systemd: none may be there.
      expect(r.output).not.toMatch(/Unknown|Ignoring|unknown/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
