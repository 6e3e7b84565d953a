/** Quoting, the account name form, and what DDL needs as literals. DDL cannot take parameters. */
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';

/** A string literal (names are allow-listed before they get here; this is the second line). */
export const lit = (s: string): string => mysql.escape(s);
/** A backquoted identifier. */
export const ident = (s: string): string => `\`${s.replace(/`/g, '``')}\``;
/** 'user'@'host' */
export const account = (user: string, host: string): string => `${lit(user)}@${lit(host)}`;

/**
 * The mysql_native_password hash ('*' + SHA1(SHA1(password)) in upper-case hex): `IDENTIFIED BY
 * PASSWORD` carries it, so the plain password never reaches the server's logs.
 */
export const nativePasswordHash = (password: string): string =>
  `*${createHash('sha1').update(createHash('sha1').update(password, 'utf8').digest()).digest('hex').toUpperCase()}`;

/** 'YYYY-MM-DD HH:MM:SS' in UTC, for `ON SCHEDULE AT` with the session time zone set to UTC. */
export const utcDatetime = (d: Date): string => lit(d.toISOString().slice(0, 19).replace('T', ' '));

/** Event names are 64 characters at most: the account is hashed into it, and named in the comment. */
export const backstopEventName = (user: string, host: string): string =>
  `tb_lock_${createHash('sha256').update(`${user}@${host}`).digest('hex').slice(0, 40)}`;
