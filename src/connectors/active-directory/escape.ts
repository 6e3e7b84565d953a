/**
 * Escaping for the two places a value meets LDAP syntax. Account names are allow-listed first;
 * these are the second line of defence, and the only one for DNs and search terms a person types.
 * (ldapts escapes filter values too, but its DN escaping quotes values in the RFC 2253 style that
 * Active Directory does not read the same way, so both live here, small and tested.)
 */

const hex = (ch: string) =>
  [...Buffer.from(ch, 'utf8')].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');

/**
 * RFC 4515 §3: inside a filter assertion value `*`, `(`, `)`, `\` and NUL must be written as \XX.
 * Everything else (UTF-8 included) may appear as is.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\u0000]/g, hex);
}

/**
 * RFC 4514 §2.4: an attribute value inside a DN. `"`, `+`, `,`, `;`, `<`, `>`, `\` are escaped
 * with a backslash (and `=`, which AD tools also escape); a leading space or `#` and a trailing
 * space are escaped; control characters become \XX.
 */
export function escapeDnValue(value: string): string {
  const chars = [...value];
  return chars
    .map((ch, i) => {
      if ('\\"+,;<>='.includes(ch)) return `\\${ch}`;
      if (/[\u0000-\u001f\u007f]/.test(ch)) return hex(ch);
      if (i === 0 && (ch === ' ' || ch === '#')) return `\\${ch}`;
      if (i === chars.length - 1 && ch === ' ') return '\\ ';
      return ch;
    })
    .join('');
}
