#!/usr/bin/env node
// The endpoint agent's own command: loads nothing of the server (see docs/agent.md).
import { runEntry } from './run-entry.js';

await runEntry('agent/program');
