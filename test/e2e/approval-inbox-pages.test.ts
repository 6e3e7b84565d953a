/**
 * The approvals inbox, the alerts and the owed reviews come in pages (`?limit=&cursor=`), oldest first, to its end: approvers read
 * every pending request (deciding only their own: `cannotDecide` says why not), and someone who
 * approves nothing sees none. Before, the server answered with the tenant's first 500 pending
 * requests and no cursor: a request behind 500 others was in nobody's inbox.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addMember, type ApiClient, type Member } from '../support/http.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const T = '/api/v1/tenants/default';
const hex = randomBytes(3).toString('hex');

let server: TestServer;
let amy: Member;
let bob: Member;
let rex: Member;
const requested: Record<'a' | 'b', string[]> = { a: [], b: [] };
/** Break-glass grants: each owes a review and raised a warning alert. */
const emergencies: string[] = [];

async function targetWithApprover(name: string, approverId: string, breakGlass = false): Promise<string> {
  const t = await server.admin.post(`${T}/targets`, { name, kind: 'fake', config: { instance: `${name}-${hex}`, entitlements: ['readers'] } });
  expect(t.status, JSON.stringify(t.body)).toBe(201);
  const p = await server.admin.post(`${T}/policies`, {
    name, targetId: t.body.target.id, requesterRoles: ['requester'], maxDurationSeconds: 3600, defaultDurationSeconds: 600,
    rules: { approvalLevels: [{ name: 'ops', approverIds: [approverId], quorum: 1 }], breakGlass: { allowed: breakGlass } },
  });
  expect(p.status, JSON.stringify(p.body)).toBe(201);
  return t.body.target.id;
}

beforeAll(async () => {
  server = await startTestServer({ env: { TIMEBOX_ENABLE_FAKE_CONNECTOR: 'true', TIMEBOX_RECONCILE_MS: '0' } });
  [amy, bob] = await Promise.all([
    addMember(server.url, server.admin, 'default', `amy.${hex}@example.com`, ['approver']),
    addMember(server.url, server.admin, 'default', `bob.${hex}@example.com`, ['approver']),
  ]);
  rex = await addMember(server.url, server.admin, 'default', `rex.${hex}@example.com`, ['requester']);
  const forAmy = await targetWithApprover('amy-db', amy.id);
  const forBob = await targetWithApprover('bob-db', bob.id);
  // Amy's requests first, then Bob's: his sit behind all of hers.
  for (const [key, targetId, n] of [['a', forAmy, 7], ['b', forBob, 3]] as const) {
    for (let i = 0; i < n; i++) {
      const r = await rex.api.post(`${T}/requests`, { targetId, entitlements: ['readers'], reason: `change request ${key}${i}` });
      expect(r.body, JSON.stringify(r.body)).toMatchObject({ state: 'requested' });
      requested[key].push(r.body.id);
    }
  }
  const urgent = await targetWithApprover('urgent-db', amy.id, true);
  for (let i = 0; i < 5; i++) {
    const r = await rex.api.post(`${T}/requests`, { targetId: urgent, entitlements: ['readers'], reason: `outage number ${i}`, emergency: true });
    expect(r.body, JSON.stringify(r.body)).toMatchObject({ emergency: true });
    emergencies.push(r.body.id);
  }
}, 120_000);

afterAll(async () => {
  await server?.close();
});

type Item = { grant: { id: string }; cannotDecide: string | null };

/** Every page of a viewer's inbox at this page size. */
async function pagesOf(api: ApiClient, limit: number): Promise<Item[][]> {
  const pages: Item[][] = [];
  let cursor: string | null = null;
  do {
    const res: { status: number; body: { items: Item[]; nextCursor: string | null } } = await api.get(`${T}/approvals?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    pages.push(res.body.items);
    cursor = res.body.nextCursor;
    expect(pages.length).toBeLessThan(20);
  } while (cursor);
  return pages;
}
const ids = (items: Item[]) => items.map((i) => i.grant.id);
const decidable = (items: Item[]) => ids(items.filter((i) => i.cannotDecide === null));

it('reads to the end in pages of the size asked, oldest first; each approver may decide their own', async () => {
  const all = [...requested.a, ...requested.b];
  const amys = await pagesOf(amy.api, 3);
  expect(amys.map(ids)).toEqual([all.slice(0, 3), all.slice(3, 6), all.slice(6, 9), all.slice(9)]);
  expect(decidable(amys.flat())).toEqual(requested.a);
  // Bob's three sit behind Amy's seven: his pages reach them.
  const bobs = (await pagesOf(bob.api, 4)).flat();
  expect(ids(bobs)).toEqual(all);
  expect(decidable(bobs)).toEqual(requested.b);
  // Someone who approves nothing sees nothing, however the pages fall.
  expect((await pagesOf(rex.api, 2)).flat()).toEqual([]);
});

it('a request decided between two pages is neither repeated nor skipped for the rest', async () => {
  const first = await amy.api.get<{ items: Item[]; nextCursor: string }>(`${T}/approvals?limit=2`);
  const decided = await amy.api.post(`${T}/grants/${requested.a[2]}/approve`, {});
  expect(decided.status, JSON.stringify(decided.body)).toBe(200);
  const rest = await amy.api.get<{ items: Item[] }>(`${T}/approvals?limit=50&cursor=${first.body.nextCursor}`);
  expect(ids([...first.body.items, ...rest.body.items])).toEqual([...requested.a, ...requested.b].filter((id) => id !== requested.a[2]));
});

it('refuses a cursor it did not make, and a page size out of range, with a clear 400', async () => {
  const forged = Buffer.from(JSON.stringify(['yesterday', 'not-an-id'])).toString('base64url');
  const bad = await amy.api.get<{ error: { message: string } }>(`${T}/approvals?cursor=${forged}`);
  expect(bad.status).toBe(400);
  expect(bad.body.error.message).toMatch(/malformed cursor/);
  expect((await amy.api.get(`${T}/approvals?limit=0`)).status).toBe(400);
  expect((await amy.api.get(`${T}/approvals?limit=201`)).status).toBe(400);
});

it('pages the owed reviews (oldest first) and the alerts (newest first) to their end', async () => {
  const read = async (path: string, limit: number) => {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { items: { grantId: string }[]; nextCursor: string | null } } = await server.admin.get(`${T}/${path}${path.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(limit);
      all.push(...res.body.items.map((i) => i.grantId));
      cursor = res.body.nextCursor;
    } while (cursor);
    return all;
  };
  expect(await read('reviews', 2)).toEqual(emergencies);
  expect(await read('alerts', 2)).toEqual([...emergencies].reverse());
  expect(await read('alerts?all=true', 3)).toEqual([...emergencies].reverse());
  expect((await server.admin.get(`${T}/reviews?cursor=bm90LWEtY3Vyc29y`)).status).toBe(400);
});
