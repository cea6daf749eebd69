/**
 * Localisation against the sources: every message the host (vscode.l10n.t) and the webviews and presentation
 * code (t from an l10n module) show is a string literal with a key in l10n/bundle.l10n.json (English
 * defaults keyed by themselves), no key there is unused, each call gives an argument for every {n}
 * placeholder, and package.json points VS Code at the folder. The webviews' t against hand-written
 * expectations: placeholders, a translated table, and the English fallback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE, ROOT, scanL10nStrings } from '../../scripts/l10n-bundle';
import { configureL10n, t } from '../../extension/protocol/l10n';

const scan = scanL10nStrings();
const bundle = JSON.parse(readFileSync(BUNDLE, 'utf8')) as Record<string, string>;

test('every localised message is a string literal', () => {
  assert.deepEqual(scan.problems, []);
  assert.ok(scan.calls.length > 200, `only ${scan.calls.length} calls found: the scan misses sources`);
  const files = new Set(scan.calls.map((c) => c.where.split(':')[0]));
  for (const f of ['webview/tokens/main.ts', 'webview/latent/main.ts', 'webview/latents/main.ts', 'webview/generate/main.ts', 'webview/common/token-render.ts', 'extension/host/commands.ts', 'extension/presentation/highlight-series.ts', 'extension/protocol/latent-verdict.ts']) {
    assert.ok(files.has(f), `no localised message found in ${f}`);
  }
});

test('every message has its key in l10n/bundle.l10n.json, with itself as the English default', () => {
  const missing = scan.calls.filter((c) => bundle[c.message] !== c.message).map((c) => `${c.where}: ${JSON.stringify(c.message)}`);
  assert.deepEqual(missing, [], 'run npm run l10n');
});

test('no key in l10n/bundle.l10n.json is unused', () => {
  const used = new Set(scan.calls.map((c) => c.message));
  assert.deepEqual(Object.keys(bundle).filter((k) => !used.has(k)), [], 'run npm run l10n');
});

test('each call passes an argument for every placeholder of its message', () => {
  const short = scan.calls.filter((c) => [...c.message.matchAll(/\{(\d+)\}/g)].some((m) => Number(m[1]) >= c.args)).map((c) => `${c.where}: ${c.message}`);
  assert.deepEqual(short, []);
});

test('package.json names the l10n folder', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { l10n?: string };
  assert.equal(manifest.l10n, './l10n');
});

test('t fills placeholders, uses the configured table and falls back to English', () => {
  try {
    assert.equal(t('Latent #{0}', 283), 'Latent #283');
    assert.equal(t('{1} of {0} ({1})', 'a', 2), '2 of a (2)');
    assert.equal(t('no argument for {1}', 'x'), 'no argument for {1}');
    configureL10n({ 'Latent #{0}': 'Latent Nr. {0}', 'toString': 'x' });
    assert.equal(t('Latent #{0}', 7), 'Latent Nr. 7');
    assert.equal(t('latent {0}', 7), 'latent 7');
    assert.equal(t('constructor'), 'constructor');
  } finally {
    configureL10n(undefined);
  }
  assert.equal(t('Latent #{0}', 7), 'Latent #7');
});
