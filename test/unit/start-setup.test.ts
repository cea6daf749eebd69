/**
 * `npm start` on a machine missing a system package: one line naming the exact command (no stack trace),
 * exit 1, nothing started. Runs the real scripts/start.mjs --check with Chromium pointed at a path that does
 * not exist and installing disabled (LATENT_DIFF_NO_INSTALL=1: a test must not run apt-get), and the package
 * check itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { ensureSystemPackage, SetupError } from '../../scripts/system-package.mjs';

const ROOT = resolve(__dirname, '../..');

test('a missing package is named with the command that installs it', () => {
  process.env.LATENT_DIFF_NO_INSTALL = '1';
  try {
    assert.throws(() => ensureSystemPackage({ present: () => false, pkg: 'libkrb5-dev', why: 'the thing' }), (e: unknown) =>
      e instanceof SetupError && /^the thing needs libkrb5-dev: run `(sudo )?apt-get install -y libkrb5-dev`/.test(e.message));
    assert.doesNotThrow(() => ensureSystemPackage({ present: () => true, pkg: 'x', why: 'y' }));
  } finally {
    delete process.env.LATENT_DIFF_NO_INSTALL;
  }
});

test('npm start -- --check without Chromium: one line with the command, exit 1, no stack', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/start.mjs'), '--check'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, LATENT_DIFF_CHROMIUM: '/nonexistent/chromium', LATENT_DIFF_NO_INSTALL: '1' },
    timeout: 300_000,
  });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('npm start:') || /^\s+at /.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^npm start: `npm start -- --check` \(it drives a headless Chromium\) needs chromium: run `(sudo )?apt-get install -y chromium`/);
  assert.doesNotMatch(r.stdout + r.stderr, /code-server .* (listening|running)|Latent Diff is running/);
});
