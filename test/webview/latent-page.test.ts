/**
 * The latent page in Chromium with a fake host: numbers and verdict, the "no examples database" state and
 * quantile sections, document activations, the annotation editor's request/reply round trip (a save sends
 * only the fields changed since the host's last value, checked against the exact message), and the logit
 * effects (base and chat side by side, token strings as text, only for the latent shown).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { DEFAULT_THRESHOLDS } from '../../extension/protocol/latent-verdict';
import { buffer, launchBrowser, openWebview, type WebviewPage } from './harness';

let browser: Browser;
let view: WebviewPage;

function detail(overrides: Record<string, unknown> = {}) {
  return {
    latent: 283, dictSize: 512, bundle: 'Latent Diff demo',
    numbers: {
      deltaNorm: 0.99, decNormBase: 0.02, decNormChat: 1.5, decCos: 0.1, encNormBase: 0.3, encNormChat: 0.9, encCos: 0.2, scale: 1.52,
      betaErrorBase: 0.002, betaErrorChat: 1.0, betaReconstructionBase: 0.018, betaReconstructionChat: 0.99,
      nuError: 0.002, nuReconstruction: 0.018, freq: 0.29, maxAct: 2.04,
    },
    thresholds: DEFAULT_THRESHOLDS,
    document: { title: 'hello-chat.txt', strip: { texts: ['<bos>', 'Hi', '<start_of_turn>', 'model', '\n', 'Paris'], acts: buffer('f32', [0, 0, 0, 1.2, 2.0, 1.8]), focus: 4, offset: 10 }, max: 2.0, approximate: false },
    examples: { status: 'none', message: 'No examples database: this bundle has none.' },
    annotation: { label: 'model turn', notes: 'fires after <start_of_turn>model', status: 'hypothesis', evidence: [{ file: 'a.txt', line: 2, character: 0, endLine: 2, endCharacter: 5, activation: 1.7, text: 'Paris' }] },
    annotationProblem: '',
    ...overrides,
  };
}

before(async () => {
  browser = await launchBrowser();
  view = await openWebview(browser, 'latent');
  await view.post({ type: 'latent', detail: detail(), message: '' });
});

after(async () => {
  await view?.close();
  await browser?.close();
});

test('the page shows the latent, its verdict and its numbers in the paper convention', async () => {
  assert.equal(await view.page.locator('h2.title').textContent(), 'Latent #283 — model turn');
  assert.equal(await view.page.locator('.toolbar .badge').textContent(), 'robust chat');
  assert.match((await view.page.locator('p.verdict').textContent())!, /^Robust chat-specific/);
  const rows = await view.page.$$eval('table.numbers tr', (trs) => trs.map((tr) => [tr.querySelector('th')!.textContent, tr.querySelector('td')!.textContent]));
  assert.deepEqual(rows[0], ['Δnorm (paper convention: 1 = chat-only, 0 = base-only)', '0.9900']);
  assert.deepEqual(rows[1], ['dec_norm_diff (code convention) = 1 − Δnorm', '0.0100']);
  assert.equal(await view.page.locator('svg.norm-bars rect').count(), 2);
  assert.deepEqual(await view.page.locator('.strip .tok').allTextContents(), ['<bos>', 'Hi', '<start_of_turn>', 'model', '\n', 'Paris']);
  assert.equal(await view.page.locator('.strip .tok.selected').evaluate((t) => Array.from(document.querySelectorAll('.tok')).indexOf(t)), 4);
});

test('the page says when the other nu sign convention would change the verdict, and only then', async () => {
  assert.equal(await view.page.locator('p.sign-note').count(), 0);
  const numbers = { ...detail().numbers, nuError: -0.6, betaErrorBase: -0.6 };
  await view.post({ type: 'latent', detail: detail({ numbers }), message: '' });
  assert.equal(await view.page.locator('.toolbar .badge').textContent(), 'robust chat');
  assert.match((await view.page.locator('p.sign-note').textContent())!, /signed ν \(setting latentDiff.nuSignConvention: signed\)\. With \|ν\| this latent would be "shrinkage"/);
  await view.post({ type: 'latent', detail: detail({ numbers, thresholds: { ...DEFAULT_THRESHOLDS, nuSign: 'absolute' } }), message: '' });
  assert.equal(await view.page.locator('.toolbar .badge').textContent(), 'shrinkage');
  assert.match((await view.page.locator('p.sign-note').textContent())!, /With signed ν this latent would be "robust chat"/);
  await view.post({ type: 'latent', detail: detail(), message: '' });
});

test('without an examples database the page says so', async () => {
  assert.equal(await view.page.locator('section', { hasText: 'Max-activating examples' }).locator('.empty-state').textContent(), 'No examples database: this bundle has none.');
});

test('clicking a document token asks the host to reveal it at its index in the analysed text', async () => {
  await view.page.locator('.strip .tok').nth(3).click();
  const sent = await view.sent();
  assert.deepEqual(sent.filter((m) => m.type === 'revealToken').at(-1), { type: 'revealToken', index: 13 });
});

/** Clicks Save and returns the request it sent (the n-th request of the page, counting from 0). */
async function saveRequest(n: number): Promise<Record<string, unknown>> {
  await view.page.locator('#annotation-save').click();
  const handle = await view.page.waitForFunction((k) => (window as unknown as { __sent: { type: string }[] }).__sent.filter((m) => m.type === 'request')[k], n);
  return (await handle.jsonValue()) as Record<string, unknown>;
}

test('Save sends only the fields changed since the host\'s last value, and shows the host reply', async () => {
  await view.page.locator('#annotation-label input').fill('model turn, confirmed');
  const first = await saveRequest(0);
  assert.deepEqual(first, { type: 'request', id: first.id, method: 'saveAnnotation', latent: 283, label: 'model turn, confirmed' }, 'the label only: notes and status were not touched');
  await view.post({ type: 'reply', id: first.id, ok: true, result: { saved: true } });
  await view.page.locator('#annotation-result', { hasText: 'saved' }).waitFor();

  await view.page.locator('#annotation-notes textarea').fill('line 1\n<b>line 2</b>');
  const second = await saveRequest(1);
  assert.deepEqual(second, { type: 'request', id: second.id, method: 'saveAnnotation', latent: 283, notes: 'line 1\n<b>line 2</b>' }, 'the saved label is not sent again');
  const file = '/ws/.latent-diff/annotations.json';
  await view.post({ type: 'reply', id: second.id, ok: false, error: { message: `${file}: is not valid JSON`, file, code: 'invalid-input' } });
  assert.equal(await view.page.locator('#annotation-result').textContent(), `not saved: ${file}: is not valid JSON`);

  const retry = await saveRequest(2);
  assert.deepEqual({ ...retry, id: 0 }, { type: 'request', id: 0, method: 'saveAnnotation', latent: 283, notes: 'line 1\n<b>line 2</b>' }, 'a failed save is sent again');
  await view.post({ type: 'reply', id: retry.id, ok: true, result: { saved: true } });
  await view.page.locator('#annotation-result', { hasText: /^saved$/ }).waitFor();

  await view.page.locator('#annotation-save').click();
  await view.page.locator('#annotation-result', { hasText: 'no changes to save' }).waitFor();
  assert.equal((await view.sent()).filter((m) => m.type === 'request').length, 3, 'nothing is sent when nothing changed');
});

test('evidence links ask the host to open the evidence by index', async () => {
  await view.page.locator('.evidence button.link').first().click();
  const sent = await view.sent();
  assert.deepEqual(sent.filter((m) => m.type === 'openEvidence').at(-1), { type: 'openEvidence', index: 0 });
});

test('quantile sections render coloured example strips', async () => {
  const strip = (n: number) => ({ texts: Array.from({ length: n }, (_, i) => `t${i}`), acts: buffer('f32', Array.from({ length: n }, (_, i) => i / n)), focus: n - 1, offset: -1 });
  await view.post({ type: 'latent', message: '', detail: detail({
    examples: { status: 'ok', source: 'examples.db', sections: [
      { name: '95–100% of the max activation', examples: [{ maxAct: 2.5, strip: strip(12) }, { maxAct: 2.4, strip: strip(8) }] },
      { name: '75–95% of the max activation', examples: [{ maxAct: 1.9, strip: strip(5) }] },
    ] },
  }) });
  assert.deepEqual(await view.page.locator('details summary').allTextContents(), ['95–100% of the max activation (2)', '75–95% of the max activation (1)']);
  assert.equal(await view.page.locator('.example').count(), 3);
  assert.equal(await view.page.locator('.example').first().locator('.tok').count(), 12);
});

test('a malformed annotation file is reported on the page', async () => {
  await view.post({ type: 'latent', message: '', detail: detail({ annotationProblem: 'annotations.json: line 3: not JSON' }) });
  assert.equal(await view.page.locator('.annotation .problem').textContent(), 'annotations.json: line 3: not JSON');
});

test('the page remembers its latent (getState) and breaks no CSP rule', async () => {
  const state = await view.page.evaluate(() => (window as unknown as { acquireVsCodeApi(): { getState(): unknown } }).acquireVsCodeApi().getState());
  assert.deepEqual(state, { latent: 283 });
  assert.deepEqual(await view.cspViolations(), []);
  assert.deepEqual(view.errors, []);
});

test('logit effects: base and chat lists side by side, direct path said, token strings as text', async () => {
  const side = (tag: string) => ({
    promoted: [{ text: `<b>${tag}</b>`, logit: 2.5 }, { text: ' Sure', logit: 1.25 }],
    suppressed: [{ text: ' think', logit: -1.5 }],
  });
  const effects = { latent: 283, convention: 'direct path: d_j^m @ W_U^T', base: side('base'), chat: side('chat') };
  await view.post({ type: 'logitEffects', latent: 7, effects, message: '' });
  assert.equal(await view.page.locator('.logit-model').count(), 0, 'effects of another latent are ignored');
  await view.post({ type: 'logitEffects', latent: 283, effects, message: '' });
  assert.deepEqual(await view.page.locator('.logit-model h4').allTextContents(), ['base decoder d_j^base', 'chat decoder d_j^chat']);
  assert.match(await view.page.locator('#logit-effects > p').textContent() ?? '', /^Direct path only: direct path: d_j\^m @ W_U\^T/);
  assert.deepEqual(await view.page.locator('.logit-chat tbody code').allTextContents(), ['"<b>chat</b>"', '" Sure"', '" think"']);
  assert.equal(await view.page.locator('.logit-effects b').count(), 0);
  assert.deepEqual(await view.page.locator('.logit-base tbody td.num').allTextContents(), ['2.500', '1.250', '-1.500']);
});
