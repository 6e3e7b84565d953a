/**
 * "Test connection": one item per requirement, in words a domain admin acts on. The rights in the
 * JIT OU are proven, not guessed: a disabled probe user is created, given a password, changed and
 * deleted, exactly the operations a grant and a revoke perform. Never throws for target problems.
 */
import { randomBytes } from 'node:crypto';
import { TargetError } from '../../core/errors.js';
import type { CheckItem, CheckReport, ConnectorContext } from '../contract.js';
import type { ConnectionConfig } from './config.js';
import { formatDn, parseDn } from './dn.js';
import { UAC_DISABLED, toFileTime, unicodePwd } from './directory.js';
import { BIND_SUBCODES, bindSubCode } from './errors.js';
import { PASSWORD_LENGTH } from './names.js';
import { type Session, expectedServerName, text, whereOf, withSession } from './session.js';

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));
const causeCode = (err: unknown) => (err as { cause?: { code?: unknown } })?.cause?.code;

async function exists(s: Session, dn: string, name: string, what: string, items: CheckItem[]): Promise<boolean> {
  try {
    const found = await s.read(`reading ${what} ${dn}`, dn, ['objectClass']);
    items.push({ name, ok: !!found, message: found ? `${what} ${dn} exists` : `the ${what} ${dn} does not exist` });
    return !!found;
  } catch (err) {
    items.push({ name, ok: false, message: `could not read the ${what} ${dn}: ${reason(err)}` });
    return false;
  }
}

async function passwordPolicy(s: Session, root: string, items: CheckItem[]) {
  const domain = await s.read('reading the domain password policy', root, ['minPwdLength', 'pwdProperties']);
  const min = Number(domain ? text(domain, 'minPwdLength') : '0');
  items.push({
    name: 'password policy',
    ok: min <= PASSWORD_LENGTH,
    message:
      min <= PASSWORD_LENGTH
        ? `the domain requires at least ${min} characters; Timebox generates ${PASSWORD_LENGTH} with upper, lower, digits and symbols`
        : `the domain requires at least ${min} characters but Timebox generates ${PASSWORD_LENGTH}: lower minPwdLength or ask for a longer generator`,
  });
}

/** Create, reset, modify and delete a disabled probe user in the JIT OU. */
async function probeRights(s: Session, jitOu: string, items: CheckItem[]) {
  const name = `tbprobe-${randomBytes(6).toString('hex')}`;
  const dn = formatDn([[{ type: 'CN', value: name }], ...parseDn(jitOu)]);
  const attempt = async (item: string, ok: string, fix: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      items.push({ name: item, ok: true, message: ok });
      return true;
    } catch (err) {
      const denied = causeCode(err) === 50;
      items.push({ name: item, ok: false, message: denied ? `${fix} (${reason(err)})` : reason(err) });
      return false;
    }
  };
  const created = await attempt('create users', `the service account can create user objects in ${jitOu}`,
    `the service account cannot create user objects in ${jitOu}: delegate "Create User objects" on that OU`, () =>
      s.step(`creating the probe ${dn}`, (c) =>
        c.add(dn, {
          objectClass: ['top', 'person', 'organizationalPerson', 'user'],
          sAMAccountName: name,
          userAccountControl: String(UAC_DISABLED),
          description: 'Timebox connection check probe (deleted right away)',
        }),
      ),
  );
  if (!created) return;
  try {
    await attempt('reset passwords', 'the service account can reset passwords in the JIT OU',
      `the service account cannot reset passwords in ${jitOu}: delegate "Reset password" on descendant User objects`, () =>
        s.replace(`setting a password on the probe ${dn}`, dn, { unicodePwd: unicodePwd(`${randomBytes(18).toString('base64url')}-Aa1`) }),
    );
    await attempt('write account attributes', 'the service account can write userAccountControl, accountExpires, description and displayName',
      `the service account cannot write userAccountControl, accountExpires, description and displayName of users in ${jitOu}: delegate "Write" on those properties of descendant User objects`, () =>
        s.replace(`changing the probe ${dn}`, dn, {
          userAccountControl: String(UAC_DISABLED),
          accountExpires: toFileTime(new Date()),
          description: 'Timebox connection check probe',
          displayName: 'Timebox probe',
        }),
    );
  } finally {
    await attempt('delete users', `the service account can delete user objects in ${jitOu}`,
      `the service account cannot delete user objects in ${jitOu}: delegate "Delete User objects" and remove the probe ${dn} by hand`, () =>
        s.step(`deleting the probe ${dn}`, (c) => c.del(dn)),
    );
  }
}

export async function checkTarget(config: ConnectionConfig, ctx: ConnectorContext, jitOu?: string): Promise<CheckReport> {
  const items: CheckItem[] = [];
  const where = whereOf(config);
  try {
    await withSession(config, ctx, async (s) => {
      items.push({ name: 'connection', ok: true, message: `connected to ${where} over TLS; the certificate of ${expectedServerName(config)} is signed by the configured CA` });
      items.push({ name: 'authentication', ok: true, message: `bound as ${config.bindDn}` });
      const root = await s.read('reading the rootDSE', '', ['defaultNamingContext']);
      const domain = root ? text(root, 'defaultNamingContext') : '';
      if (!(await exists(s, config.baseDn, 'base DN', 'base DN', items))) return;
      if (jitOu && (await exists(s, jitOu, 'JIT OU', 'JIT OU', items))) await probeRights(s, jitOu, items);
      if (jitOu && domain) await passwordPolicy(s, domain, items);
    });
  } catch (err) {
    const e = err instanceof TargetError ? err : new TargetError('transient', reason(err));
    if (items.length === 0) {
      const bindFailed = causeCode(e) === 49;
      items.push({ name: 'connection', ok: bindFailed, message: bindFailed ? `connected to ${where} over TLS` : e.message });
      if (bindFailed) {
        const sub = bindSubCode(e.cause);
        items.push({
          name: 'authentication',
          ok: false,
          message: `bind failed: invalid credentials${sub ? ` (data ${sub}: ${BIND_SUBCODES[sub] ?? 'unknown sub-code'})` : ''}; check bindDn ${config.bindDn} and bindPassword`,
        });
      }
    } else {
      items.push({ name: 'directory', ok: false, message: e.message });
    }
  }
  return { ok: items.length > 0 && items.every((i) => i.ok), items };
}
