/**
 * The token panel in Chromium with a fake host: token strings are rendered as text (an HTML payload stays
 * inert), 8,000 tokens render with the highlight colours, clicks reach the host, the export renderer runs
 * standalone under its own CSP.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { standaloneTokenHtml } from '../../extension/presentation/export-html';
import type { TokenExportData } from '../../extension/protocol/messages';
import { launchBrowser, openWebview, type WebviewPage } from './harness';
import { documentMessage, highlightMessage, makeTokens } from './fixtures';

const PAYLOADS = [
  '<img src=x onerror="window.__pwned=1">',
  '</span><script>window.__pwned=2</script>',
  '"><svg onload="window.__pwned=3">',
  '&lt;b&gt; & <b>bold</b>',
];
const briefs = [
  { latent: 7, deltaNorm: 0.97, nuError: 0.05, nuReconstruction: 0.1, label: '<i>model turn</i>' },
  { latent: 3, deltaNorm: 0.95, nuError: 0.6, nuReconstruction: 0.1, label: '' },
];

/** Puts `latents` first in token i's top-k list (so a test knows what the detail table shows). */
function forceTop(f: ReturnType<typeof makeTokens>, i: number, latents: number[]): void {
  latents.forEach((j, r) => { f.topLatents[i * f.topK + r] = j; });
}

let browser: Browser;
let view: WebviewPage;

before(async () => {
  browser = await launchBrowser();
  view = await openWebview(browser, 'tokens');
});

after(async () => {
  await view?.close();
  await browser?.close();
});

test('token strings carrying HTML are shown as text and never parsed', async () => {
  const f = makeTokens(40, 3, PAYLOADS);
  forceTop(f, 1, [7]);
  await view.post(documentMessage(f, briefs));
  const texts = await view.page.$$eval('.tokens .tok', (spans) => spans.map((s) => s.textContent));
  assert.deepEqual(texts.slice(1, 1 + PAYLOADS.length), PAYLOADS);
  assert.equal(await view.page.locator('.tokens img, .tokens script, .tokens svg, .tokens b').count(), 0);
  assert.equal(await view.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  // The label shown in the detail table is untrusted too.
  await view.page.locator('.tok').nth(1).click();
  assert.equal(await view.page.locator('.latent-table tbody tr').first().locator('td.label').textContent(), '<i>model turn</i>');
  assert.equal(await view.page.locator('.latent-table i').count(), 0);
  assert.equal(await view.page.locator('.detail h3').textContent(), `Token 1: id ${f.ids[1]} ${JSON.stringify(PAYLOADS[0])}`);
});

test('8,000 tokens render, template tokens are marked, and the highlight colours exactly the firing tokens', async () => {
  const f = makeTokens(8000, 5);
  await view.post(documentMessage(f, briefs));
  assert.equal(await view.page.locator('.tokens .tok').count(), 8000);
  assert.equal(await view.page.locator('.tokens').evaluate((t) => t.textContent), f.texts.join(''));
  assert.equal(await view.page.locator('.tokens .line').count(), f.texts.filter((t) => t.endsWith('\n')).length + (f.texts.at(-1)!.endsWith('\n') ? 0 : 1));
  const templates = Array.from(f.flags).filter((x) => x & 1).length;
  assert.equal(await view.page.locator('.tokens .tok.template').count(), templates);
  await view.post(highlightMessage(f.latent7));
  const coloured = await view.page.$$eval('.tokens .tok', (spans) => spans.map((s, i) => [i, (s as HTMLElement).style.background] as const)
    .filter(([, bg]) => bg !== '').map(([i]) => i));
  const firing = Array.from(f.latent7).flatMap((a, i) => (a > 0 ? [i] : []));
  assert.ok(firing.length > 100);
  assert.deepEqual(coloured, firing);
  assert.equal(await view.page.locator('.legends .series').count(), 1);
  assert.equal(await view.page.locator('.legends svg.sparkline').count(), 1);
});

test('two-latent mode paints each token half and half', async () => {
  const f = makeTokens(50, 8);
  await view.post(documentMessage(f, briefs));
  const other = Float32Array.from(f.latent7, (_, i) => (i % 3 === 0 ? 1 : 0));
  const msg = highlightMessage(f.latent7);
  const second = highlightMessage(other, 3).highlight.series[0];
  msg.highlight.series.push(second);
  await view.post(msg);
  const bg = await view.page.locator('.tokens .tok').nth(3).evaluate((s) => (s as HTMLElement).style.background);
  assert.match(bg, /linear-gradient/);
  assert.equal(await view.page.locator('.legends .series').count(), 2);
});

test('the token colours follow the theme colour VS Code sets for the strongest highlight bucket', async () => {
  const f = makeTokens(30, 9);
  await view.post(documentMessage(f, briefs));
  await view.page.evaluate(() => document.documentElement.style.setProperty('--vscode-latentDiff-highlightFirst8', '#10c020b3'));
  const acts = Float32Array.from({ length: 30 }, (_, k) => (k % 4 === 1 ? 1 + k / 10 : 0));
  await view.post(highlightMessage(acts));
  const i = 5;
  const bg = await view.page.locator('.tokens .tok').nth(i).evaluate((s) => (s as HTMLElement).style.background);
  assert.match(bg, /^rgba\(16, 192, 32, [\d.]+\)$/);
  await view.page.evaluate(() => document.documentElement.style.removeProperty('--vscode-latentDiff-highlightFirst8'));
});

test('clicking a token lists its top latents with verdict badges; clicking a latent asks the host to highlight it', async () => {
  const f = makeTokens(30, 9);
  forceTop(f, 4, [7, 3, 20]);
  await view.post(documentMessage(f, briefs));
  await view.page.locator('.tokens .tok').nth(4).click();
  const ids = await view.page.$$eval('.latent-table tbody tr td:first-child button', (bs) => bs.map((b) => b.textContent));
  const expected = Array.from(f.topLatents.subarray(4 * f.topK, 5 * f.topK)).map((j) => `#${j}`);
  assert.deepEqual(ids, expected);
  const badges = await view.page.$$eval('.latent-table tbody tr .badge', (bs) => bs.slice(0, 3).map((b) => b.textContent));
  assert.deepEqual(badges, ['robust chat', 'shrinkage', 'other']);
  const first = f.topLatents[4 * f.topK];
  await view.page.locator('.latent-table tbody tr td:first-child button').first().click();
  await view.page.locator('.latent-table tbody tr td:first-child button').first().click({ modifiers: ['Shift'] });
  await view.page.locator('.tokens .tok').nth(4).dblclick();
  const sent = await view.sent();
  assert.deepEqual(sent.filter((m) => m.type === 'highlightLatent').slice(-2), [
    { type: 'highlightLatent', latent: first, slot: 0 }, { type: 'highlightLatent', latent: first, slot: 1 },
  ]);
  assert.deepEqual(sent.filter((m) => m.type === 'revealToken').at(-1), { type: 'revealToken', index: 4 });
});

test('the panel keeps the selected token across a reload (getState/setState)', async () => {
  const reopened = await openWebview(browser, 'tokens', { state: { selected: 2 } });
  try {
    await reopened.post(documentMessage(makeTokens(10, 4), briefs));
    assert.equal(await reopened.page.locator('.tok.selected').evaluate((t) => Array.from(document.querySelectorAll('.tok')).indexOf(t)), 2);
  } finally {
    await reopened.close();
  }
});

test('no CSP violation and no page error in the panel', async () => {
  assert.deepEqual(await view.cspViolations(), []);
  assert.deepEqual(view.errors, []);
});

test('the exported standalone HTML renders the same tokens under its own CSP, with the payloads inert', async () => {
  const f = makeTokens(200, 6, PAYLOADS);
  const data: TokenExportData = {
    title: 'export </title><script>window.__pwned=4</script>', note: 'note',
    texts: f.texts, ids: Array.from(f.ids), flags: Array.from(f.flags),
    series: [{ name: 'latent 7', acts: Array.from(f.latent7), max: 10, maxSource: 'fixed', hue: 'first' }],
  };
  const root = join(__dirname, '..', '..');
  const html = standaloneTokenHtml(data, readFileSync(join(root, 'dist/webview/token-export.js'), 'utf8'), readFileSync(join(root, 'media/webview.css'), 'utf8'));
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.setContent(html);
  await page.locator('.tokens .tok').nth(199).waitFor();
  assert.equal(await page.locator('.tokens .tok').count(), 200);
  assert.deepEqual(await page.$$eval('.tokens .tok', (s) => s.slice(1, 5).map((x) => x.textContent)), PAYLOADS);
  assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  assert.equal(await page.title(), data.title);
  assert.equal(await page.locator('.legends svg.legend').count(), 1);
  assert.deepEqual(errors, []);
  await page.close();
});
