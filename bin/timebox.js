#!/usr/bin/env node
// Installed command: the compiled CLI when built (npm run build), else its source through tsx.
import { runEntry } from './run-entry.js';

await runEntry('cli/main');
