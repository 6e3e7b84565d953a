/**
 * A real OpenID provider for tests: the certified `oidc-provider` package on a loopback port,
 * with its own RSA signing key, Authorization Code + PKCE (required), the device authorization
 * grant, and its development login and consent pages (which the tests drive with Chromium).
 * Accounts live in memory: a test changes someone's groups or email_verified between sign-ins.
 * `stop()` takes it off the network (provider down); `start()` brings it back on the same port.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

export interface TestAccount {
  email: string;
  emailVerified: boolean;
  name: string;
  groups: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, TestAccount>;
  /** Adds or replaces an account; the login page accepts its id with any password. */
  setAccount(id: string, account: TestAccount): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestProvider(opts: { redirectUris: string[]; clientId?: string }): Promise<TestProvider> {
  const accounts = new Map<string, TestAccount>();
  let handler: ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) | null = null;
  const listenOn = async (port: number): Promise<Server> => {
    const srv = createServer((req, res) => handler?.(req, res));
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve());
    });
    return srv;
  };
  let server: Server | null = await listenOn(0);
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = opts.clientId ?? 'timebox';
  const clientSecret = randomBytes(24).toString('base64url');

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    // Email and groups in the ID token itself, as Entra ID, Okta and Keycloak can be told to do.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true }, deviceFlow: { enabled: true } },
    async findAccount(_ctx, id) {
      const a = accounts.get(id);
      if (!a) return undefined;
      return {
        accountId: id,
        async claims() {
          const now = accounts.get(id) ?? a;
          return { sub: id, email: now.email, email_verified: now.emailVerified, name: now.name, groups: now.groups };
        },
      };
    },
  });
  // oidc-provider warns about its development pages on every start: expected here.
  provider.on('server_error', (_ctx, err) => process.stderr.write(`test OpenID provider error: ${String(err)}\n`));
  handler = provider.callback();

  async function stop(): Promise<void> {
    const s = server;
    server = null;
    if (s) {
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    }
  }

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    setAccount(id, account) {
      accounts.set(id, account);
    },
    stop,
    async start() {
      if (!server) server = await listenOn(port);
    },
    close() {
      return stop();
    },
  };
}
