/**
 * The webviews in another language: each page gets a pseudo-locale string table (every key of
 * l10n/bundle.l10n.json wrapped in ⟦ ⟧, placeholders kept) the way the host hands over vscode.l10n.bundle,
 * and its UI text must come out translated, placeholders filled, under the same Content-Security-Policy;
 * without a table the English defaults show.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { DEFAULT_THRESHOLDS } from '../../extension/protocol/latent-verdict';
import { buffer, launchBrowser, openWebview, type WebviewPage } from './harness';
import { documentMessage, makeTable, makeTokens, tableMessage } from './fixtures';

const NUMBERS = ['decNormBase', 'decNormChat', 'decCos', 'encNormBase', 'encNormChat', 'encCos', 'scale', 'betaErrorBase', 'betaErrorChat',
  'betaReconstructionBase', 'betaReconstructionChat', 'freq', 'maxAct'];
const english = JSON.parse(readFileSync(join(__dirname, '..', '..', 'l10n', 'bundle.l10n.json'), 'utf8')) as Record<string, string>;
const pseudo = Object.fromEntries(Object.keys(english).map((k) => [k, `⟦${k}⟧`]));

let browser: Browser;
const opened: WebviewPage[] = [];

before(async () => { browser = await launchBrowser(); });
after(async () => {
  for (const v of opened) await v.close();
  await browser?.close();
});

async function open(name: string, l10n: Record<string, string> | undefined, opts: { bodyClass?: string } = {}): Promise<WebviewPage> {
  const v = await openWebview(browser, name, { ...opts, l10n });
  opened.push(v);
  return v;
}

/** Texts of the page's UI chrome (buttons, headings, table heads, summaries, empty states) that hold a latin word. */
async function chromeTexts(v: WebviewPage): Promise<string[]> {
  const texts = await v.page.$$eval('vscode-button, button, th, h3, h4, summary, .empty-state, .count', (nodes) => nodes.map((n) => (n.textContent ?? '').trim()));
  return texts.filter((s) => /[a-z]{2}/i.test(s));
}

async function finish(v: WebviewPage): Promise<void> {
  assert.deepEqual(await v.cspViolations(), []);
  assert.deepEqual(v.errors, []);
}

test('the token panel shows the translated strings with their placeholders filled', async () => {
  const v = await open('tokens', pseudo);
  assert.equal(await v.page.locator('.empty-state').textContent(), '⟦Nothing analysed yet. Run "Latent Diff: Analyze Document" on an editor.⟧');
  const f = makeTokens(30, 3);
  f.topLatents[1 * f.topK] = 7;
  await v.post(documentMessage(f, [{ latent: 7, deltaNorm: 0.97, nuError: 0.05, nuReconstruction: 0.1, label: 'turn' }]));
  assert.equal(await v.page.locator('h2.title').textContent(), '⟦fixture.txt · plain · 30 tokens · test bundle (cpu)⟧');
  await v.page.locator('.tok').nth(1).click();
  assert.equal(await v.page.locator('.detail h3').textContent(), `⟦Token 1: id ${f.ids[1]} ${JSON.stringify(f.texts[1])}⟧`);
  assert.deepEqual(await v.page.$$eval('.latent-table th', (th) => th.map((x) => x.textContent)), ['⟦latent⟧', '⟦act⟧', '⟦verdict⟧', 'Δnorm', '⟦label⟧', '⟦in text (top-k)⟧', '', '']);
  assert.equal(await v.page.locator('.latent-table .badge').first().textContent(), '⟦robust chat⟧');
  assert.equal(await v.page.locator('.latent-table button.latent').first().getAttribute('title'), '⟦Highlight latent 7 (shift-click: as second latent)⟧');
  // Δnorm is the paper's symbol, not a word to translate.
  const untranslated = (await chromeTexts(v)).filter((s) => !s.includes('⟦') && s !== 'Δnorm');
  assert.deepEqual(untranslated, []);
  await finish(v);
});

test('the latents sidebar translates its controls, counts and verdict badges', async () => {
  const v = await open('latents', pseudo, { bodyClass: 'sidebar' });
  await v.post(tableMessage(makeTable(2000), 'demo'));
  await v.page.locator('.vrow:not(.vheader)').first().waitFor();
  assert.equal(await v.page.locator('.count').textContent(), '⟦2,000 of 2,000 latents⟧');
  assert.equal(await v.page.locator('.charts h3').textContent(), '⟦demo: 2,000 latents⟧');
  assert.deepEqual(await v.page.$$eval('#filter-tag vscode-option', (o) => o.map((x) => x.textContent)), ['⟦any tag⟧', '⟦chat-only⟧', '⟦base-only⟧', '⟦shared⟧', '⟦other⟧']);
  const badges = await v.page.$$eval('.vrow:not(.vheader) .c-badge', (b) => b.filter((x) => !(x.closest('.vrow') as HTMLElement).hidden).map((x) => x.textContent ?? ''));
  assert.ok(badges.length > 0 && badges.every((b) => /^⟦.+⟧$/.test(b)), badges.join(', '));
  assert.deepEqual((await chromeTexts(v)).filter((s) => !s.includes('⟦')), []);
  await finish(v);
});

test('the latent page translates its sections, numbers, buttons and annotation editor', async () => {
  const v = await open('latent', pseudo);
  await v.post({
    type: 'latent', message: '',
    detail: {
      latent: 283, dictSize: 512, bundle: 'demo',
      // a robust chat-specific latent: chat-only, both nu ratios far below their thresholds
      numbers: { ...Object.fromEntries(NUMBERS.map((k) => [k, 0.5])), deltaNorm: 0.99, nuError: 0.01, nuReconstruction: 0.01 },
      thresholds: DEFAULT_THRESHOLDS,
      document: { title: 'chat.txt', strip: { texts: ['a', 'b'], acts: buffer('f32', [0, 1]), focus: 1, offset: 0 }, max: 1, approximate: false },
      examples: { status: 'none', message: 'none' },
      annotation: null, annotationProblem: '',
    },
  });
  assert.equal(await v.page.locator('h2.title').textContent(), '⟦Latent #283⟧');
  assert.equal(await v.page.locator('.toolbar .badge').textContent(), '⟦robust chat⟧');
  assert.equal(await v.page.locator('p.verdict').textContent(), '⟦Robust chat-specific: chat-only by Delta-norm (0.99), and Latent Scaling finds little of it in the base model (nu_eps = 0.01 < 0.2, nu_r = 0.01 < 0.5).⟧');
  assert.deepEqual(await v.page.$$eval('section > h3', (h) => h.map((x) => x.textContent)),
    ['⟦Decoder norms per model⟧', '⟦Numbers⟧', '⟦Logit effects (direct path)⟧', '⟦In the current document⟧', '⟦Max-activating examples⟧', '⟦Annotation⟧']);
  assert.equal(await v.page.locator('table.numbers th').first().textContent(), '⟦Δnorm (paper convention: 1 = chat-only, 0 = base-only)⟧');
  assert.equal(await v.page.locator('#annotation-save').textContent(), '⟦Save annotation⟧');
  assert.equal(await v.page.locator('#annotation-label').getAttribute('placeholder'), '⟦short label⟧');
  assert.equal(await v.page.locator('.annotation h4').textContent(), '⟦Evidence (0)⟧');
  await finish(v);
});

test('the generation panel translates its empty state and controls', async () => {
  const v = await open('generate', pseudo);
  assert.equal(await v.page.locator('h2.title').textContent(), '⟦Latent Diff: Generation⟧');
  assert.equal(await v.page.locator('.empty-state').textContent(), '⟦Nothing generated yet. Run "Latent Diff: Generate Response" on a chat that ends with a user turn.⟧');
  assert.equal(await v.page.locator('vscode-button').first().textContent(), '⟦Cancel⟧');
  await finish(v);
});

test('without a string table the webviews show the English defaults', async () => {
  const v = await open('tokens', undefined);
  assert.equal(await v.page.locator('.empty-state').textContent(), 'Nothing analysed yet. Run "Latent Diff: Analyze Document" on an editor.');
  assert.deepEqual(await v.page.$$eval('vscode-button', (b) => b.map((x) => x.textContent)), ['Export HTML', 'Clear highlight']);
  await finish(v);
});
