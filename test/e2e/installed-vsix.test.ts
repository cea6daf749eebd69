/**
 * The installed extension, not the development folder: `npm run package`'s code builds the linux-x64 VSIX,
 * code-server installs it with `--install-extension`, and the smoke test runs against that copy: Analyze
 * Document on the sample chat colours the tokens where the planted model-turn latent fires (per
 * ground-truth.json and the real tokenizer), with the demo bundle and the worker loaded from the install;
 * the context keys are set, and the keybinding Ctrl+Alt+. selects a token where the latent fires.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageTarget } from '../../scripts/package-vsix';
import { answerInput, quickOpen, runCommand } from '../../scripts/code-server/workbench';
import { firingRanges, plantedLatent, sortRanges, type RangeTuple } from './expected-ranges';
import { startSession, type E2ESession } from './session';

interface TestState {
  contextKeys: Record<string, boolean>;
  bundle: { dir: string; isDemo: boolean } | null;
  analysis: { uri: string; kind: string; tokenCount: number } | null;
  highlight: { latents: number[] };
  decorations: Record<string, RangeTuple[]>;
}

const SAMPLE = 'hello-chat.txt';
const MODEL_TURN = plantedLatent('robust-chat-only', 'model-turn');
let s: E2ESession;
let scratch: string;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'latent-diff-vsix-e2e-'));
  s = await startSession({ vsix: packageTarget('linux-x64', scratch) });
});
after(async () => {
  await s?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('the installed VSIX analyses the sample chat and highlights the planted latent', async () => {
  // The installed extension has activated (its test-state command answers) before the palette is used.
  await s.probe.state(120_000);
  await quickOpen(s.page, SAMPLE);
  await runCommand(s.page, 'Latent Diff: Analyze Document');
  const waitForState = (what: string, accept: (x: TestState) => TestState | undefined | false) =>
    s.probe.waitForState<string, TestState>(what, (raw) => accept(JSON.parse(raw) as TestState), 120_000);
  await waitForState('the sample to be analysed', (x) => x.analysis?.uri.endsWith(`/${SAMPLE}`) && x);
  await runCommand(s.page, 'Latent Diff: Highlight Latent...');
  await answerInput(s.page, 'Highlight Latent', String(MODEL_TURN));
  const st = await waitForState('the model-turn latent highlighted', (x) => x.highlight.latents[0] === MODEL_TURN && Object.keys(x.decorations).some((k) => k.startsWith('first.')) && x);
  assert.equal(st.analysis!.kind, 'chat');
  assert.equal(st.bundle?.isDemo, true);
  const installed = realpathSync(join(s.server.stateDir, 'extensions'));
  assert.ok(realpathSync(st.bundle!.dir).startsWith(`${installed}/`), `the demo bundle is loaded from the installed extension (${st.bundle!.dir}), not the development folder`);
  const ranges = sortRanges(Object.entries(st.decorations).filter(([k]) => k.startsWith('first.')).flatMap(([, r]) => r));
  const expected = await firingRanges(readFileSync(join(s.workspace, SAMPLE), 'utf8'), MODEL_TURN);
  assert.ok(expected.length >= 5);
  assert.deepEqual(ranges, expected);
  await s.shot('installed-vsix-analyzed');
});

test('context keys follow the state, and Ctrl+Alt+. jumps to a token where the highlighted latent fires', async () => {
  const st = await s.probe.waitForState<string, TestState>('the context keys', (raw) => {
    const x = JSON.parse(raw) as TestState;
    return x.contextKeys.latentHighlighted && x;
  }, 60_000);
  assert.deepEqual(st.contextKeys, { bundleLoaded: true, analysed: true, activeEditorAnalysed: true, highlighting: true, latentHighlighted: true, hasStatistics: st.contextKeys.hasStatistics });
  const text = readFileSync(join(s.workspace, SAMPLE), 'utf8');
  const expected = await firingRanges(text, MODEL_TURN);
  const lineStarts = [0, ...[...text.matchAll(/\n/g)].map((m) => m.index! + 1)];
  const offset = (line: number, character: number) => lineStarts[line] + character;
  // The cursor at the very start (line 1 is a user turn, where the latent does not fire).
  await s.page.locator('.monaco-editor .view-lines').first().click();
  await s.page.keyboard.press('Control+Home');
  await s.page.keyboard.press('Control+Alt+.');
  const cursor = s.page.locator('.statusbar-item', { hasText: /Ln \d+, Col \d+ \(\d+ selected\)/ }).first();
  await cursor.waitFor();
  const [, line, col, selected] = /Ln (\d+), Col (\d+) \((\d+) selected\)/.exec(await cursor.innerText())!.map(Number);
  // The selection's active end is the token's end; its length is the token's.
  const hit = expected.find(([sl, sc, el, ec]) => el === line - 1 && ec === col - 1 && offset(el, ec) - offset(sl, sc) === selected);
  assert.ok(hit, `the selection (Ln ${line}, Col ${col}, ${selected} selected) is a token where latent ${MODEL_TURN} fires`);
  await s.shot('installed-vsix-next-strongest');
});
