/**
 * End to end in a real VS Code (code-server) driven through its UI in headless Chromium. One session, steps
 * in order, like a user: analyse a sample prompt, inspect the token panel and the latents sidebar, annotate a
 * latent, reload the window, find the annotation still there, see a latent's logit effects (the demo's planted
 * <end_of_turn> readout). Screenshots of each step: test-output/e2e/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { waitFor } from '../../scripts/code-server/wait';
import { answerInput, quickOpen, runCommand, waitForWorkbench, webviewFrame } from '../../scripts/code-server/workbench';
import { firingRanges, plantedLatent, sortRanges, type RangeTuple } from './expected-ranges';
import { startSession, type E2ESession } from './session';

/** What `latentDiff._test.state` returns (extension/host/test-hook.ts), the parts these tests read. */
interface TestState {
  bundle: { name: string; dir: string; dictSize: number; isDemo: boolean } | null;
  analysis: { uri: string; version: number; kind: string; tokenCount: number } | null;
  highlight: { mode: string; latents: number[] };
  decorations: Record<string, RangeTuple[]>;
  sidebarRows: { shown: number; total: number } | null;
  tokenPanelOpen: boolean;
  latentPages: number[];
  annotationsFile: string | null;
  annotationsProblem: string;
  stats: { source: string | null; problem: string };
}

const SAMPLE = 'hello-chat.txt';
const MODEL_TURN = plantedLatent('robust-chat-only', 'model-turn');
const TEMPLATE = plantedLatent('robust-chat-only', 'template');
let s: E2ESession;

const state = async (): Promise<TestState> => JSON.parse(await s.probe.command<string>('latentDiff._test.state')) as TestState;
async function waitForState<T>(what: string, accept: (st: TestState) => T | undefined | null | false, timeoutMs = 60_000): Promise<T> {
  await s.probe.state(timeoutMs);
  return s.probe.waitForState<string, T>(what, (raw) => accept(JSON.parse(raw) as TestState), timeoutMs);
}
/** Decorated ranges of the first highlight hue, all alpha buckets together. */
const firstHueRanges = (st: TestState) => sortRanges(Object.entries(st.decorations).filter(([k]) => k.startsWith('first.')).flatMap(([, r]) => r));

before(async () => {
  s = await startSession();
});
after(async () => {
  await s?.stop();
});

test('Analyze Document colours exactly the tokens where the planted model-turn latent fires', async () => {
  await quickOpen(s.page, SAMPLE);
  await s.shot('sample-open');
  await runCommand(s.page, 'Latent Diff: Analyze Document');
  const analysed = await waitForState('the sample to be analysed', (st) => st.analysis?.uri.endsWith(`/${SAMPLE}`) && st);
  assert.equal(analysed.analysis!.kind, 'chat');
  assert.equal(analysed.bundle?.isDemo, true);

  await runCommand(s.page, 'Latent Diff: Highlight Latent...');
  await answerInput(s.page, 'Highlight Latent', String(MODEL_TURN));
  const st = await waitForState(`latent ${MODEL_TURN} highlighted`, (x) => x.highlight.latents[0] === MODEL_TURN && firstHueRanges(x).length > 0 && x);

  const text = readFileSync(join(s.workspace, SAMPLE), 'utf8');
  const expected = await firingRanges(text, MODEL_TURN);
  assert.ok(expected.length >= 5, `the planted latent should fire on the model turn (got ${expected.length} tokens)`);
  assert.deepEqual(firstHueRanges(st), expected);

  // The decorations are in the editor's DOM: extension decoration overlays (class ced-*) with a background
  // (adjacent tokens in one colour bucket may share one overlay).
  const painted = await s.page.locator('.monaco-editor .view-overlays div[class*="ced-"]').evaluateAll((els) =>
    els.filter((e) => !/^rgba\(\d+, \d+, \d+, 0\)$|^transparent$/.test(getComputedStyle(e).backgroundColor)).length);
  assert.ok(painted > 0 && painted <= expected.length, `expected 1..${expected.length} highlighted overlays, found ${painted}`);
  await s.page.locator('.statusbar-item', { hasText: `#${MODEL_TURN}` }).first().waitFor();
  await s.shot('analyzed-model-turn');
});

test('the token panel shows every analysed token inside its webview', async () => {
  await runCommand(s.page, 'Latent Diff: Show Token Panel');
  const frame = await webviewFrame(s.page, '.tokens[aria-label="Tokens"] .tok');
  const st = await waitForState('the token panel to be open', (x) => x.tokenPanelOpen && x);
  await frame.locator('.tok').nth(st.analysis!.tokenCount - 1).waitFor();
  assert.equal(await frame.locator('.tok').count(), st.analysis!.tokenCount);
  assert.ok((await frame.locator('.tok.template').count()) >= 4, 'chat-template tokens are marked');
  await s.shot('token-panel');
});

test('the latent page saves an annotation to the workspace file', async () => {
  await runCommand(s.page, 'Latent Diff: Show Latent...');
  await answerInput(s.page, 'Show Latent', String(MODEL_TURN));
  const frame = await webviewFrame(s.page, '#annotation-label');
  await frame.locator('#annotation-label input').fill('model turn (e2e)');
  await frame.locator('#annotation-notes textarea').fill('fires from "model" to <end_of_turn>, line 1\nline 2');
  await frame.locator('#annotation-save').click();
  const file = await waitForState('the annotation file to be written', (x) => x.annotationsFile);
  const st = await state();
  assert.equal(st.annotationsProblem, '');
  const record = await annotationOnDisk(file, MODEL_TURN);
  assert.equal(record.label, 'model turn (e2e)');
  assert.equal(record.notes, 'fires from "model" to <end_of_turn>, line 1\nline 2');
  await s.shot('latent-page-annotated');
});

test('Annotate Latent from the palette, with input boxes', async () => {
  // From the editor, as a user would (the previous step left focus in the latent page).
  await s.page.locator('.tabs-container .tab[data-resource-name="hello-chat.txt"]').first().click();
  await s.page.locator('.monaco-editor .view-lines').first().click();
  await runCommand(s.page, 'Latent Diff: Annotate Latent...');
  await answerInput(s.page, 'Annotate Latent', String(TEMPLATE));
  await answerInput(s.page, `Annotate latent #${TEMPLATE}`, 'chat template tokens');
  await answerInput(s.page, `Status of latent #${TEMPLATE}`, 'confirmed');
  const file = (await state()).annotationsFile!;
  const record = await annotationOnDisk(file, TEMPLATE, (r) => r.status === 'confirmed');
  assert.equal(record.label, 'chat template tokens');
});

test('the latents sidebar filters its rows', async () => {
  await s.page.locator('.activitybar .action-item a[aria-label^="Latent Diff"]').first().click();
  const frame = await webviewFrame(s.page, '#filter-text');
  const all = await waitForState('the sidebar to list every latent', (x) => x.sidebarRows && x.sidebarRows.shown === x.bundle?.dictSize && x.sidebarRows);
  await s.shot('sidebar-all');
  await frame.locator('#filter-text input').fill('model turn');
  const filtered = await waitForState('the filter to apply', (x) => x.sidebarRows && x.sidebarRows.shown < all.shown && x.sidebarRows);
  assert.equal(filtered.shown, 1, 'one latent carries the label typed');
  assert.equal(filtered.total, all.total);
  const visibleRows = frame.locator('.vlist .vrow').filter({ visible: true });
  await visibleRows.filter({ hasText: `#${MODEL_TURN}` }).first().waitFor();
  await s.shot('sidebar-filtered');
  assert.deepEqual(await visibleRows.locator('.c-id').allTextContents(), [`#${MODEL_TURN}`], 'the list shows exactly the filtered rows');
});

test('the latent page lists each model\'s logit effects: the template latent promotes <end_of_turn> in the chat model', async () => {
  await runCommand(s.page, 'Latent Diff: Show Latent...');
  await answerInput(s.page, 'Show Latent', String(TEMPLATE));
  const frame = await webviewFrame(s.page, `h2.title:text-matches("^Latent #${TEMPLATE}( |$)")`);
  const rows = (model: string) => frame.locator(`.logit-${model} tbody tr`);
  await rows('chat').first().waitFor({ timeout: 120_000 });
  for (const model of ['base', 'chat']) assert.equal(await rows(model).count(), 20, `${model}: 10 promoted and 10 suppressed tokens`);
  assert.equal(await rows('chat').first().locator('code').textContent(), JSON.stringify('<end_of_turn>'));
  assert.notEqual(await rows('base').first().locator('code').textContent(), JSON.stringify('<end_of_turn>'));
  await s.shot('latent-page-logit-effects');
  // Closed again, so that the reload below restores only the page the later steps look at.
  await runCommand(s.page, 'View: Close Editor');
  await waitForState('the logit-effects page closed', (x) => !x.latentPages.includes(TEMPLATE) && x);
});

test('after Reload Window the annotations are still in the file and in the UI', async () => {
  const before = await state();
  const pid = await s.probe.waitReady();
  await runCommand(s.page, 'Developer: Reload Window');
  await s.probe.waitReady(pid);
  await waitForWorkbench(s.page);
  const record = await annotationOnDisk(before.annotationsFile!, MODEL_TURN);
  assert.equal(record.label, 'model turn (e2e)');
  assert.equal((await annotationOnDisk(before.annotationsFile!, TEMPLATE)).label, 'chat template tokens');

  await runCommand(s.page, 'Latent Diff: Show Latent...');
  await answerInput(s.page, 'Show Latent', String(MODEL_TURN));
  const frame = await webviewFrame(s.page, '#annotation-label');
  await frame.locator('h2.title', { hasText: 'model turn (e2e)' }).waitFor();
  assert.equal(await frame.locator('#annotation-label input').inputValue(), 'model turn (e2e)');
  await s.shot('after-reload');
});

test('overview: re-analysed after the reload, sidebar unfiltered, latent page beside', async () => {
  await s.page.locator('.tabs-container .tab[data-resource-name="hello-chat.txt"]').first().click();
  await runCommand(s.page, 'Latent Diff: Analyze Document');
  await runCommand(s.page, 'Latent Diff: Highlight Latent...');
  await answerInput(s.page, 'Highlight Latent', String(MODEL_TURN));
  const st = await waitForState('the sample highlighted again', (x) => x.analysis && x.highlight.latents[0] === MODEL_TURN && firstHueRanges(x).length > 0 && x);
  assert.deepEqual(firstHueRanges(st), await firingRanges(readFileSync(join(s.workspace, SAMPLE), 'utf8'), MODEL_TURN));
  const sidebar = await webviewFrame(s.page, '#filter-text');
  await sidebar.locator('#filter-text input').fill('');
  await waitForState('the sidebar filter cleared', (x) => x.sidebarRows && x.sidebarRows.shown === x.sidebarRows.total);
  const tokens = await webviewFrame(s.page, '.tokens[aria-label="Tokens"] .tok');
  await tokens.locator('.tok').nth(st.analysis!.tokenCount - 1).waitFor();
  await s.shot('overview');
});

test('Compute Statistics on Dataset writes the paper-format files and the views switch to them', async () => {
  const before = await waitForState('the demo statistics loaded', (x) => (x.stats.source ? x : undefined));
  assert.match(before.stats.source!, /models\/demo\/feature_df\.csv$/);
  const dataset = join(s.workspace, 'dataset.jsonl');
  copyFileSync(join(__dirname, '../../models/demo/dataset.jsonl'), dataset);
  await s.probe.command('latentDiff.computeStatistics', [dataset]);
  const after = await waitForState('the computed statistics in use', (x) => (x.stats.source?.includes('/.latent-diff/stats/') ? x : undefined));
  assert.equal(after.stats.problem, '');
  const out = dirname(after.stats.source!);
  assert.ok(existsSync(join(out, 'feature_df.csv')) && existsSync(join(out, 'examples.db')));
  const header = readFileSync(join(out, 'feature_df.csv'), 'utf8').split('\n', 1)[0].split(',');
  for (const column of ['dec_norm_diff', 'beta_ratio_error', 'beta_ratio_reconstruction', 'lmsys_ctrl_%', 'verdict']) assert.ok(header.includes(column), column);
  await waitForState('the sidebar still lists every latent', (x) => x.sidebarRows && x.sidebarRows.total === x.bundle?.dictSize);
  await s.shot('statistics-computed');
});

interface StoredRecord {
  label: string;
  status: string;
  notes: string;
}

/** The record of `latent` in the annotation file, once present (and accepted). */
async function annotationOnDisk(file: string, latent: number, accept: (r: StoredRecord) => boolean = () => true): Promise<StoredRecord> {
  return waitFor(`latent ${latent} in ${file}`, () => {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { format: string; crosscoders: Record<string, Record<string, StoredRecord>> };
    assert.equal(data.format, 'latent-diff-annotations');
    const sections = Object.values(data.crosscoders);
    assert.equal(sections.length, 1, 'one crosscoder section (the demo bundle)');
    const r = sections[0][String(latent)];
    return r && accept(r) ? r : undefined;
  });
}
