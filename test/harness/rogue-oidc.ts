/**
 * A small hand-rolled OpenID provider that answers discovery, JWKS, authorize and token like a
 * real one, but can be told to mint a bad ID token: signed by a key it does not publish, for
 * another audience, already expired, with the wrong nonce, or with email_verified false. The
 * authorize endpoint sends the browser straight back with a code (no login page), so a test can
 * walk the whole flow with plain HTTP and see Timebox's validation refuse the token.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';

export type RogueMode = 'good' | 'other-key' | 'wrong-audience' | 'expired' | 'wrong-nonce' | 'unverified-email';

export interface RogueProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  mode: RogueMode;
  /** Claims of the next sign-in (name: 'Rogue Person' unless given). */
  person: { sub: string; email: string; groups: string[]; name?: string };
  /** Codes redeemed at the token endpoint so far. */
  redeemed: number;
  stop(): Promise<void>;
}

export async function startRogueProvider(): Promise<RogueProvider> {
  const published = await generateKeyPair('RS256');
  const unpublished = await generateKeyPair('RS256');
  const kid = 'rogue-1';
  const jwk = { ...(await exportJWK(published.publicKey)), kid, alg: 'RS256', use: 'sig' };
  const codes = new Map<string, { nonce: string }>();
  let server: Server | null = null;

  const state: RogueProvider = {
    issuer: '',
    clientId: 'timebox-rogue',
    clientSecret: randomBytes(16).toString('hex'),
    mode: 'good',
    person: { sub: 'rogue-person', email: 'rogue.person@example.test', groups: [] },
    redeemed: 0,
    async stop() {
      const s = server;
      server = null;
      if (s) await new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections(); });
    },
  };

  async function idToken(nonce: string): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const m = state.mode;
    const key: CryptoKey = m === 'other-key' ? unpublished.privateKey : published.privateKey;
    return new SignJWT({
      email: state.person.email,
      email_verified: m !== 'unverified-email',
      name: state.person.name ?? 'Rogue Person',
      groups: state.person.groups,
      nonce: m === 'wrong-nonce' ? 'not-the-nonce-you-sent' : nonce,
    })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(state.issuer)
      .setSubject(state.person.sub)
      .setAudience(m === 'wrong-audience' ? 'some-other-client' : state.clientId)
      .setIssuedAt(m === 'expired' ? now - 7200 : now)
      .setExpirationTime(m === 'expired' ? now - 3600 : now + 300)
      .sign(key);
  }

  server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', state.issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer: state.issuer,
        authorization_endpoint: `${state.issuer}/authorize`,
        token_endpoint: `${state.issuer}/token`,
        jwks_uri: `${state.issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/authorize') {
      const code = randomBytes(16).toString('hex');
      codes.set(code, { nonce: url.searchParams.get('nonce') ?? '' });
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      const code = new URLSearchParams(body).get('code') ?? '';
      const c = codes.get(code);
      codes.delete(code);
      if (!c) return json(400, { error: 'invalid_grant', error_description: 'code unknown or already used' });
      state.redeemed += 1;
      return json(200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300, id_token: await idToken(c.nonce) });
    }
    return json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  state.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
