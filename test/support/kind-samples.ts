/** Per target kind: a config its connector accepts and one it refuses (no service behind either). */
import type { TargetKind } from '../../src/core/target-kinds.js';

const CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const agentId = '2f1c4b9e-8a57-4f7b-9f43-0c1d2e3f4a5b';

export const kindSamples: Record<TargetKind, { good: Record<string, unknown>; bad: Record<string, unknown> }> = {
  postgres: { good: { host: '127.0.0.1', port: 9, user: 'timebox_svc', password: 'pw-1', connectTimeoutMs: 2000 }, bad: { host: 'db.example.com', user: 'timebox_svc', port: 'five' } },
  mariadb: { good: { host: '127.0.0.1', port: 9, user: 'timebox_svc', password: 'pw-1', ssl: 'disable', connectTimeoutMs: 2000 }, bad: { host: '', user: 'timebox_svc', password: 'pw-1' } },
  'active-directory': {
    good: { url: 'ldaps://127.0.0.1:9', bindDn: 'svc@example.com', bindPassword: 'pw-1', caPem: CA, baseDn: 'DC=example,DC=com', jitOu: 'OU=JIT,DC=example,DC=com', connectTimeoutMs: 2000 },
    bad: { url: 'http://dc1.example.com', bindDn: 'svc@example.com', bindPassword: 'pw-1', caPem: CA, baseDn: 'DC=example,DC=com', jitOu: 'OU=JIT,DC=example,DC=com' },
  },
  'active-directory-groups': {
    good: { url: 'ldaps://127.0.0.1:9', bindDn: 'svc@example.com', bindPassword: 'pw-1', caPem: CA, baseDn: 'DC=example,DC=com', connectTimeoutMs: 2000 },
    bad: { url: 'ldaps://dc1.example.com', bindDn: 'svc@example.com', bindPassword: 'pw-1', caPem: 'not a certificate', baseDn: 'DC=example,DC=com' },
  },
  'linux-agent': { good: { agentId, sudoRules: { psql: { runAs: ['postgres'], commands: ['/usr/bin/psql'] } }, groups: ['adm'] }, bad: { agentId: 'host-1' } },
  'linux-agent-users': { good: { agentId, groups: ['adm'] }, bad: { agentId, credentialDelivery: 'reveal' } },
  'ssh-certificate': { good: { principalsAllowed: ['deploy'], extensions: ['permit-pty'] }, bad: { principalsAllowed: ['deploy'], extensions: ['permit-everything'] } },
  'x509-certificate': { good: { roles: ['reader'] }, bad: { roles: [] } },
  'security-token': { good: { audience: 'https://api.example.com', scopes: ['read'] }, bad: { audience: 'https://api.example.com' } },
};
