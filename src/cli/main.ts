#!/usr/bin/env node
/** The `timebox` command. */
import { Command } from 'commander';
import { serve } from './serve.js';

const program = new Command()
  .name('timebox')
  .description('Just-in-time privileged access: no standing privileges.')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the server (embedded database in ./data unless DATABASE_URL is set; port from PORT, default 8420)')
  .action(serve);

await program.parseAsync(process.argv);
