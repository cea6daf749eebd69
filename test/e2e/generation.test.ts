/**
 * End to end in code-server: "Generate Response" on a chat ending with a user turn streams the demo chat
 * model's answer into the generation panel, token by token, coloured by the highlighted latent; the answer
 * is the one models/demo/ground-truth.json predicts, and steering the planted model-turn latent at -1 gives
 * the base answer next to the unchanged default one, as the ground truth says; "Insert as model turn"
 * writes the answer into the document.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { answerInput, quickOpen, runCommand, webviewFrame } from '../../scripts/code-server/workbench';
import { waitFor } from '../../scripts/code-server/wait';
import { plantedLatent } from './expected-ranges';
import { ROOT, startSession, type E2ESession } from './session';

interface Answer { model: string; steer: { latent: number; strength: number }[]; status: string; ids: number[]; text: string }
interface TestState {
  highlight: { mode: string; latents: number[] };
  decorations: Record<string, [number, number, number, number][]>;
  generation: { run: number; state: string; error: string; streamed: number[]; answers: Answer[] } | null;
}
interface Behaviour {
  chatAnswer: { text: string; ids: number[] };
  baseAnswer: { text: string; ids: number[] };
  steering: { latent: number; strength: number; on: string; ids: number[] }[];
}

const ASK = 'ask.txt';
const PROMPT = '<start_of_turn>user\nCan you help me with my homework?<end_of_turn>\n';
const MODEL_TURN = plantedLatent('robust-chat-only', 'model-turn');
const behaviour = (JSON.parse(readFileSync(join(ROOT, 'models', 'demo', 'ground-truth.json'), 'utf8')) as { behaviour: Behaviour }).behaviour;
let s: E2ESession;

async function waitForState<T>(what: string, accept: (st: TestState) => T | undefined | null | false, timeoutMs = 120_000): Promise<T> {
  await s.probe.state(timeoutMs);
  return s.probe.waitForState<string, T>(what, (raw) => accept(JSON.parse(raw) as TestState), timeoutMs);
}

/** Back to the prompt's editor (the first group's tab; the generation panel opened beside it). */
async function focusPrompt(): Promise<void> {
  await s.page.locator(`.tabs-container .tab[data-resource-name="${ASK}"]`).first().click();
  await s.page.locator('.monaco-editor .view-lines').first().click();
}

before(async () => {
  s = await startSession();
  writeFileSync(join(s.workspace, ASK), PROMPT);
});
after(async () => {
  await s?.stop();
});

test('Generate Response streams the chat model\'s answer, coloured by the highlighted latent', async () => {
  await quickOpen(s.page, ASK);
  await runCommand(s.page, 'Latent Diff: Highlight Latent...');
  await answerInput(s.page, 'Highlight Latent', String(MODEL_TURN));
  await runCommand(s.page, 'Latent Diff: Generate Response');
  await answerInput(s.page, 'Latent Diff: Generate Response', 'Chat model answers');
  const st = await waitForState('the answer to finish', (x) => x.generation?.state !== 'running' && x.generation);
  assert.equal(st.state, 'done', st.error);
  assert.equal(st.answers.length, 1);
  assert.deepEqual(st.answers[0].ids, behaviour.chatAnswer.ids, 'the greedy answer the ground truth predicts');
  assert.equal(st.answers[0].text, behaviour.chatAnswer.text);
  const total = behaviour.chatAnswer.ids.length;
  assert.ok(st.streamed.some((n) => n > 0 && n < total), `tokens reached the panel before the answer ended (views posted with ${st.streamed.join(', ')} tokens)`);

  const frame = await webviewFrame(s.page, '.answer[data-column="0"] .tok');
  await frame.locator('.answer[data-column="0"] .tok').nth(total - 1).waitFor();
  assert.equal(await frame.locator('.answer[data-column="0"] .tok').count(), total);
  const coloured = await frame.locator('.answer[data-column="0"] .tok').evaluateAll((spans) => spans.filter((x) => (x as HTMLElement).style.background.startsWith('rgba(230, 40, 40')).length);
  assert.ok(coloured > 0, 'the model-turn latent colours generated tokens of the model turn');
  assert.match(await frame.locator('.answer-status').first().textContent() ?? '', /tokens\/s/);
  await s.shot('generated');

  await frame.locator('.answer[data-column="0"] vscode-button.insert').click();
  await focusPrompt();
  await runCommand(s.page, 'File: Save');
  const saved = await waitFor('the document saved with the model turn', () => {
    const text = readFileSync(join(s.workspace, ASK), 'utf8');
    return text !== PROMPT ? text : undefined;
  });
  assert.equal(saved, `${PROMPT}<start_of_turn>model\n${behaviour.chatAnswer.text}<end_of_turn>\n`);
});

test('a steered answer differs from the default one as the ground truth says', async () => {
  const truth = behaviour.steering.find((x) => x.latent === MODEL_TURN && x.strength === -1)!;
  assert.ok(truth, 'the ground truth predicts steering the model-turn latent at -1');
  // Back to a chat ending with a user turn.
  writeFileSync(join(s.workspace, ASK), PROMPT);
  await focusPrompt();
  await runCommand(s.page, 'File: Revert File');
  await runCommand(s.page, 'Latent Diff: Generate Steered Response...');
  await answerInput(s.page, 'Latent Diff: Steer', `${MODEL_TURN}:-1`);
  await answerInput(s.page, 'Steer on', 'All tokens');
  const st = await waitForState('the steered answers to finish', (x) => x.generation && x.generation.run > 1 && x.generation.state !== 'running' && x.generation);
  assert.equal(st.state, 'done', st.error);
  assert.deepEqual(st.answers.map((a) => a.steer), [[], [{ latent: MODEL_TURN, strength: -1 }]]);
  assert.deepEqual(st.answers[0].ids, behaviour.chatAnswer.ids, 'the default answer is unchanged');
  assert.deepEqual(st.answers[1].ids, truth.ids, 'steered: the chat model gives the base answer');
  assert.notDeepEqual(st.answers[1].ids, st.answers[0].ids);
  const frame = await webviewFrame(s.page, '.answer[data-steered="true"] .tok');
  assert.equal(await frame.locator('.answer[data-steered="true"] .tok').count(), truth.ids.length);
  await s.shot('steered');
});

test('the patching experiment\'s per-token KL highlight decorates the answer tokens in the editor', async () => {
  await quickOpen(s.page, 'hello-chat.txt');
  await runCommand(s.page, 'Latent Diff: Run Patching Experiment');
  // Analysis and every intervention run first (minutes on a loaded machine), then the pick appears.
  await s.page.locator('.quick-input-title', { hasText: /^Highlight the per-token KL of/ }).waitFor({ timeout: 300_000 });
  await answerInput(s.page, 'Highlight the per-token KL of', 'none');
  const st = await waitForState('the KL highlight', (x) => x.highlight.mode === 'kl' && Object.keys(x.decorations).some((k) => k.startsWith('first.')) && x);
  const ranges = Object.entries(st.decorations).filter(([k]) => k.startsWith('first.')).flatMap(([, r]) => r);
  assert.ok(ranges.length > 0);
  // hello-chat.txt: the model's answer is line 3 (0-based); only predictions of answer tokens are scored.
  assert.deepEqual([...new Set(ranges.map((r) => r[0]))], [3], `decorated lines: ${JSON.stringify(ranges)}`);
  const painted = await s.page.locator('.monaco-editor .view-overlays div[class*="ced-"]').evaluateAll((els) =>
    els.filter((e) => !/^rgba\(\d+, \d+, \d+, 0\)$|^transparent$/.test(getComputedStyle(e).backgroundColor)).length);
  assert.ok(painted > 0, 'the editor paints the KL highlight');
  await s.shot('per-token-kl');
});
