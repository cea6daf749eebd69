/**
 * The generation panel in Chromium with a fake host: answers stream in as growing snapshots, side by side;
 * token strings stay text; tokens are coloured exactly where the highlight series is positive; insert is
 * offered only for finished answers and posts the run and column; cancel posts the run; no CSP violation.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { DEFAULT_THRESHOLDS } from '../../extension/protocol/latent-verdict';
import { buffer, launchBrowser, openWebview, type WebviewPage } from './harness';

const PAYLOAD = '<img src=x onerror="window.__pwned=1">';

interface ColumnSpec {
  model: 'chat' | 'base';
  steer: string;
  texts: string[];
  acts: number[];
  status: string;
}

function column(c: ColumnSpec) {
  const n = c.texts.length;
  return {
    model: c.model, steer: c.steer, texts: c.texts,
    ids: buffer('i32', c.texts.map((_, i) => 100 + i)),
    logProbs: buffer('f32', c.texts.map(() => -0.5)),
    topK: 1,
    topLatents: buffer('i32', c.acts.map((a) => (a > 0 ? 7 : -1))),
    topActs: buffer('f32', c.acts),
    status: c.status, tokensPerSecond: n ? 12.5 : 0,
    highlight: { mode: 'latents', note: '', series: [{ latent: 7, name: 'latent 7', acts: buffer('f32', c.acts), max: 2, maxSource: 'max in this text', approximate: false }] },
  };
}

function viewMessage(run: number, state: string, cols: ColumnSpec[]) {
  return {
    type: 'generation',
    view: {
      run, title: 'chat.txt', settings: 'greedy · at most 64 new tokens · seed 0', promptTokens: 12, state, error: '',
      insertLabel: 'Insert as model turn', columns: cols.map(column),
      latents: [{ latent: 7, deltaNorm: 0.97, nuError: 0.05, nuReconstruction: 0.1, label: '' }],
      thresholds: DEFAULT_THRESHOLDS,
    },
  };
}

let browser: Browser;
let view: WebviewPage;

before(async () => {
  browser = await launchBrowser();
  view = await openWebview(browser, 'generate');
});

after(async () => {
  await view?.close();
  await browser?.close();
});

const backgrounds = (answer: number) => view.page.$$eval(`.answer[data-column="${answer}"] .tok`, (spans) => spans.map((s) => (s as HTMLElement).style.background));

test('streamed snapshots grow the answers side by side, token strings stay text, colours follow the series', async () => {
  assert.equal(await view.page.locator('.empty-state').isVisible(), true);
  const first: ColumnSpec[] = [
    { model: 'chat', steer: '', texts: ['Sure', PAYLOAD], acts: [0, 1.5], status: 'running' },
    { model: 'chat', steer: 'steered: #7 × -1 (all tokens)', texts: [], acts: [], status: 'running' },
  ];
  await view.post(viewMessage(1, 'running', first));
  assert.equal(await view.page.locator('.answer').count(), 2);
  assert.deepEqual(await view.page.$$eval('.answer[data-column="0"] .tok', (s) => s.map((x) => x.textContent)), ['Sure', PAYLOAD]);
  assert.equal(await view.page.locator('.answers img').count(), 0);
  assert.equal(await view.page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
  const bg = await backgrounds(0);
  assert.equal(bg[0], '');
  assert.match(bg[1], /^rgba\(230, 40, 40, 0\.6\d*\)$/);
  assert.equal(await view.page.locator('.answer[data-column="1"] h3').textContent(), 'chat model · steered: #7 × -1 (all tokens)');
  assert.equal(await view.page.locator('vscode-button.insert[disabled]').count(), 2, 'nothing can be inserted while generating');
  await view.page.locator('vscode-button', { hasText: 'Cancel' }).click();
  assert.deepEqual((await view.sent()).at(-1), { type: 'cancel', run: 1 });

  const done: ColumnSpec[] = [
    { model: 'chat', steer: '', texts: ['Sure', PAYLOAD, '!', '<end_of_turn>'], acts: [0, 1.5, 2, 0], status: 'end-of-turn' },
    { model: 'chat', steer: 'steered: #7 × -1 (all tokens)', texts: ['I', ' think', '<end_of_turn>'], acts: [0, 0, 0], status: 'end-of-turn' },
  ];
  await view.post(viewMessage(1, 'done', done));
  assert.equal(await view.page.locator('.answer[data-column="0"] .tok').count(), 4);
  assert.equal(await view.page.locator('.answer[data-column="0"] .tok.special').count(), 1, 'the stop token is marked');
  assert.deepEqual((await backgrounds(1)).filter((b) => b !== ''), [], 'no colour where the series is 0');
  assert.match(await view.page.locator('.answer[data-column="0"] .answer-status').textContent() ?? '', /4 tokens · ended its turn · 12\.5 tokens\/s/);
  assert.equal(await view.page.locator('vscode-button', { hasText: 'Cancel' }).isVisible(), false);
  await view.page.locator('.answer[data-column="1"] vscode-button.insert').click();
  assert.deepEqual((await view.sent()).at(-1), { type: 'insert', run: 1, column: 1 });
});

test('a cancelled answer offers no insert; a token click lists its latents with highlight and steer', async () => {
  await view.post(viewMessage(2, 'cancelled', [{ model: 'chat', steer: '', texts: ['Sure', '!'], acts: [1, 2], status: 'cancelled' }]));
  assert.equal(await view.page.locator('.answer').count(), 1);
  const inserts = async () => (await view.sent()).filter((m) => m.type === 'insert').length;
  const before = await inserts();
  await view.page.locator('.answer[data-column="0"] vscode-button.insert').click({ force: true });
  assert.equal(await inserts(), before);
  await view.page.locator('.answer[data-column="0"] .tok').nth(1).click();
  assert.match(await view.page.locator('.detail h3').textContent() ?? '', /token 1: id 101 "!"/);
  await view.page.locator('.detail button', { hasText: 'steer' }).click();
  assert.deepEqual((await view.sent()).at(-1), { type: 'steerLatent', latent: 7 });
  await view.page.locator('.detail button.latent').click();
  assert.deepEqual((await view.sent()).at(-1), { type: 'highlightLatent', latent: 7, slot: 0 });
  assert.deepEqual(await view.cspViolations(), []);
  assert.deepEqual(view.errors, []);
});
