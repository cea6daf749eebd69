#!/usr/bin/env node
// Installs (or finds) code-server + Node 24 in the cache folder and prints where they are, as JSON.
// Cache folder: $LATENT_DIFF_CACHE or ~/.cache/latent-diff. Used by `npm run test:e2e` and `npm start`.
import { ensureCodeServer } from './code-server/install.mjs';

const installed = ensureCodeServer();
process.stdout.write(`${JSON.stringify(installed, null, 2)}\n`);
