/**
 * The agent's systemd unit, as `timebox-agent install-service` writes it. The agent runs as root
 * and must be able to change /etc (useradd, gpasswd, sudoers.d), create and delete home
 * directories and kill any user's processes; the hardening kept here takes away only what none of
 * that needs. Ending access must never fail because of the sandbox, so options that would make a
 * host tool fail on some distribution are left out (listed in the unit with the reason).
 */
import path from 'node:path';

export const AGENT_UNIT_NAME = 'timebox-agent.service';

export interface AgentUnitOptions {
  /** Absolute path of the node binary. */
  nodePath: string;
  /** Absolute path of the `timebox-agent` script (it runs the compiled agent when built). */
  scriptPath: string;
  stateDir: string;
  /** `--config` for the agent, when not `<state-dir>/agent.json`. */
  configFile?: string;
}

/** Characters that never need quoting in an ExecStart argument. */
const PLAIN = /^[A-Za-z0-9_@+=:,./-]+$/;

/**
 * One ExecStart argument: double-quoted when needed (systemd.syntax), `%` doubled (specifiers)
 * and `$` doubled (environment expansion), so the path reaches the process unchanged.
 */
export function execArg(arg: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(arg)) throw new Error(`${JSON.stringify(arg)} contains a control character; it cannot go into a unit file`);
  if (arg.length === 0) return '""';
  const escaped = PLAIN.test(arg) ? arg : `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return escaped.replace(/%/g, '%%').replace(/\$/g, '$$$$');
}

function absolute(what: string, p: string): string {
  if (!path.isAbsolute(p)) throw new Error(`${what} must be an absolute path (got ${JSON.stringify(p)})`);
  return path.normalize(p);
}

/** The agent's command line: node, the `timebox-agent` script, `run --state-dir …`. */
export function agentExecStart(o: AgentUnitOptions): string[] {
  const argv = [absolute('the node binary', o.nodePath), absolute('the timebox-agent script', o.scriptPath), 'run', '--state-dir', absolute('--state-dir', o.stateDir)];
  if (o.configFile) argv.push('--config', absolute('--config', o.configFile));
  return argv;
}

export function renderAgentUnit(o: AgentUnitOptions): string {
  return [
    '# Timebox endpoint agent: just-in-time local accounts, group memberships and sudo rules, ended on',
    '# time from a local schedule even without the server. Written by `timebox-agent install-service`;',
    '# see docs/agent.md.',
    '',
    '[Unit]',
    'Description=Timebox endpoint agent (just-in-time privileged access)',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    '# Root: it edits /etc/passwd, /etc/shadow, /etc/group and /etc/sudoers.d and ends other users\' processes.',
    'User=root',
    `ExecStart=${agentExecStart(o).map(execArg).join(' ')}`,
    '# Its state is crash-safe (kill -9 at any point converges): come back quickly to enforce ends.',
    'Restart=always',
    'RestartSec=2s',
    'TimeoutStopSec=20s',
    'UMask=0077',
    '',
    '# Hardening that account management, sudoers and process killing never need:',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    '# AF_UNIX: logind over D-Bus, nscd; AF_INET(6): the server and SMTP; AF_NETLINK: audit records of shadow-utils.',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    '',
    '# Left out on purpose (each would make a grant or, worse, an end fail on some hosts):',
    '# ProtectSystem=full|strict  /etc would be read-only (useradd, gpasswd, chpasswd, sudoers.d); strict',
    '#                            also needs every path the host tools write (mail spools, lastlog, nscd)',
    '# ProtectHome               home directories are created and deleted with the accounts',
    '# ProtectProc=invisible, ProcSubset=pid   every user\'s processes must be seen to be ended',
    '# CapabilityBoundingSet     shadow-utils, PAM hooks and visudo need different sets per distribution',
    '# NoNewPrivileges           blocks the SELinux domain transitions of useradd, passwd and friends',
    '# SystemCallFilter          a refused call in a host tool would fail an end with SIGSYS',
    '# RestrictSUIDSGID          useradd -m may copy set-group-id directories from /etc/skel',
    '# MemoryDenyWriteExecute    Node\'s JIT needs writable and executable memory',
    '# PrivateUsers, DynamicUser the agent must be the real root',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
