#!/usr/bin/env node
// Installed command: runs the compiled CLI (npm run build first when working from a checkout).
import '../dist/cli/main.js';
