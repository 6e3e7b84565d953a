import { describe, expect, it } from 'vitest';
import { clean } from './output.js';

describe('clean: what the CLI prints of the server\'s or a provider\'s words', () => {
  it.each([
    ['escape sequences do not drive the terminal', 'ok\u001b[2J\u001b]0;owned\u0007!', 'ok [2J ]0;owned !'],
    ['bidi controls do not reorder a name', 'Ada \u202eecivreS', 'Ada  ecivreS'],
    ['zero-width and BOM are not hidden in it', 'ad\u200bmin\ufeff', 'ad min '],
    ['ordinary text, accents and emoji stay', 'Zoë 🔑 café', 'Zoë 🔑 café'],
    ['nothing shows as a dash', '', '-'],
  ])('%s', (_what, input, shown) => {
    expect(clean(input)).toBe(shown);
  });
});
