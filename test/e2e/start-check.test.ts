/**
 * The README's main-job command in CI conditions: `npm start -- --check` builds, serves Latent Diff in
 * code-server, loads the workbench headless, waits until the sample prompt is analysed and highlighted
 * (LATENT_DIFF_AUTO_ANALYZE, read by the extension), prints the URL and exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './session';

test('npm start -- --check opens the demo with the sample analysed, then exits', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'start.mjs'), '--check'], {
    cwd: ROOT,
    timeout: 300_000,
  });
  assert.match(stdout, /Workbench loaded at http:\/\/127\.0\.0\.1:\d+\/\?folder=/);
  assert.match(stdout, /hello-chat\.txt analysed with [1-9]\d* highlighted token ranges/);
});
