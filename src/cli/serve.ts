/** `timebox serve`: runs the server until SIGINT/SIGTERM, printing the first owner's password once. */
import { SettingsError } from '../core/errors.js';
import { CliError, ExitCode } from './exit-codes.js';

export async function serve(): Promise<void> {
  // The embedded store's WebAssembly compiles on other threads while the server's modules load.
  if (!process.env.DATABASE_URL) void import('../store/pglite-module.js').then((m) => m.pgliteWasmModule()).catch(() => {});
  // Loaded here, not at the top: every other command talks to a server and starts faster without it.
  const { startTimebox } = await import('../server/start.js');
  const tb = await startTimebox().catch((err: unknown) => {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    // A setting that cannot work: its own words, as a usage error (nothing was created).
    if (err instanceof SettingsError) throw new CliError(err.message, ExitCode.usage);
    // The address to listen on is not one of this host's (or not a name at all).
    if (e?.code === 'ENOTFOUND' || e?.code === 'EADDRNOTAVAIL' || e?.code === 'EAI_AGAIN') {
      throw new CliError(`cannot listen on HOST=${process.env.HOST ?? '127.0.0.1'}: it is not an address of this machine (${e.code}); set HOST to one of its addresses, or 0.0.0.0 for all`, ExitCode.usage);
    }
    if (e?.code === 'EADDRINUSE') {
      const where = e.address && e.port !== undefined ? `${e.address}:${e.port}` : 'the address to listen on';
      throw new CliError(`${where} is already in use (another Timebox server still running?): stop it, or start this one on another port with PORT=…`);
    }
    throw err;
  });
  if (tb.bootstrap) {
    // Printed on stdout once, never logged: the only time anyone sees this password.
    process.stdout.write(
      [
        '',
        'Timebox is set up. First owner (shown only this once; change it after signing in):',
        `  email:    ${tb.bootstrap.email}`,
        `  password: ${tb.bootstrap.password}`,
        '  tenant:   default',
        `Next: open ${tb.url} in a browser, or sign in from a terminal (in a checkout: npm run timebox -- login …)`,
        `  timebox login --server ${tb.url} --email ${tb.bootstrap.email}`,
        'and choose your own password: nothing else works until then.',
        '',
      ].join('\n'),
    );
  }
  process.stdout.write(`Timebox listening on ${tb.url}\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping\n`);
    await tb.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
