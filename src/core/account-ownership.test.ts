import { describe, expect, it } from 'vitest';
import { ownerTag, ownershipOf, readMarker, type AccountOwner } from './account-ownership.js';

const P = 'Timebox JIT account';
const INST = '11111111-1111-4111-8111-111111111111';
const OTHER_INST = '22222222-2222-4222-8222-222222222222';
const ME = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const YOU = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const owner: AccountOwner = { accountId: ME, installationId: INST };
const mine = `${ownerTag(P, owner)} of Alice <a@x>; grant g: reason`;

type Row = [name: string, marker: string | null, who: AccountOwner, expected: ReturnType<typeof ownershipOf>];
const table: Row[] = [
  ['our own marker', mine, owner, { status: 'owned' }],
  ['our marker with nothing after the ids', ownerTag(P, owner), owner, { status: 'owned' }],
  ['no comment at all', null, owner, { status: 'foreign', reason: 'not_timebox' }],
  ['a comment someone else wrote', 'readers of the app', owner, { status: 'foreign', reason: 'not_timebox' }],
  ['the marker later in the text', `group role; ${mine}`, owner, { status: 'foreign', reason: 'not_timebox' }],
  ['another JIT account of this installation', `${ownerTag(P, { accountId: YOU, installationId: INST })} of Bob`, owner,
    { status: 'foreign', reason: 'other_account' }],
  ['the same account id of another installation', `${ownerTag(P, { accountId: ME, installationId: OTHER_INST })} of Alice`, owner,
    { status: 'foreign', reason: 'other_installation' }],
  ['a marker of an older version, not claimable', `${P} of Alice <a@x>; grant g: r`, owner, { status: 'foreign', reason: 'unclaimed_legacy' }],
  ['a marker of an older version, claimable', `${P} of Alice <a@x>; grant g: r`, { ...owner, claimLegacy: true }, { status: 'owned' }],
  ['claimLegacy never overrides another owner', `${ownerTag(P, { accountId: YOU, installationId: INST })} of Bob`, { ...owner, claimLegacy: true },
    { status: 'foreign', reason: 'other_account' }],
  ['ids glued to more text are not ids', `${ownerTag(P, owner)}x of Alice`, owner, { status: 'foreign', reason: 'unclaimed_legacy' }],
  ['upper-case ids are not ours (we write lower case)', `${P} ${INST}/${ME.toUpperCase()} of A`, owner, { status: 'foreign', reason: 'unclaimed_legacy' }],
];

describe('account ownership markers', () => {
  it.each(table)('%s', (_name, marker, who, expected) => {
    expect(ownershipOf(P, marker, who)).toEqual(expected);
  });

  it('reads back what it writes', () => {
    expect(readMarker(P, mine)).toEqual({ kind: 'owner', installationId: INST, accountId: ME });
    expect(readMarker(P, 'x')).toEqual({ kind: 'none' });
  });
});
