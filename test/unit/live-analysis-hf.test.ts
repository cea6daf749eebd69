/**
 * Incremental live analysis over a Hugging Face Gemma 2 bundle (the committed transformers fixture through
 * Gemma2SplitModel, whose key/value caches are overwritten in place after an edit instead of copied): random
 * edits (insert, delete, replace at the start, middle and end) give the same tokens, top latents, summary and
 * selected activations as a fresh analyzer within 1e-5, in one context window and over several; and an update
 * cancelled after both models overwrote the caches beyond the kept prefix leaves the previous document usable:
 * an edit that shares those overwritten positions with it still equals a fresh analysis.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Analyzer, type Progress } from '../../extension/engine/analysis/analyzer';
import { seededRandom } from '../../extension/engine/random';
import { writeFixtureBundle } from './hf-bundle-fixture';
import { assertSameAnalysis } from './same-analysis';

const root = mkdtempSync(join(tmpdir(), 'ld-live-hf-'));
writeFixtureBundle(root, 'hf');
after(() => rmSync(root, { recursive: true, force: true }));
const open = (contextWindow?: number) => Analyzer.open(root, { provider: 'cpu', cacheDir: join(root, 'cache'), contextWindow });
const SELECT = [0, 5, 77];
// The fixture's vocabulary has 512 tokens: these characters are spelled with byte tokens inside it.
const CHARS = [...'𓀀𓀁𓀂𓀃𓀄𓀅𓀆𓀇𓀈𓀉'];

async function fresh(text: string, contextWindow?: number) {
  const a = open(contextWindow);
  try {
    return await a.analyze(text, { latents: SELECT });
  } finally {
    await a.dispose();
  }
}

async function randomEdits(seed: number, contextWindow: number | undefined): Promise<void> {
  const rand = seededRandom(seed);
  const pick = () => CHARS[Math.floor(rand() * CHARS.length)];
  let text = Array.from({ length: 9 }, pick);
  const live = open(contextWindow);
  try {
    await live.analyze(text.join(''), { latents: SELECT });
    const edits = ['insert', 'delete', 'replace'].flatMap((kind) => ['start', 'middle', 'end'].map((where) => ({ kind, where })));
    for (const { kind, where } of [...edits, ...edits]) {
      const at = where === 'start' ? Math.floor(rand() * 2) : where === 'end' ? text.length - Math.floor(rand() * 2) : Math.floor(text.length * (0.3 + 0.4 * rand()));
      const len = 1 + Math.floor(rand() * 3);
      const piece = Array.from({ length: 1 + Math.floor(rand() * 3) }, pick);
      if (kind === 'insert') text = [...text.slice(0, at), ...piece, ...text.slice(at)];
      else if (kind === 'delete') text = [...text.slice(0, at), ...text.slice(at + len)];
      else text = [...text.slice(0, at), ...piece, ...text.slice(at + len)];
      if (text.length === 0) text = [pick()];
      const s = text.join('');
      assertSameAnalysis(await live.analyze(s, { latents: SELECT }), await fresh(s, contextWindow), `${kind} at ${where}`);
    }
  } finally {
    await live.dispose();
  }
}

test('random edits over key/value caches: the incremental analysis equals a fresh one within 1e-5', () => randomEdits(21, undefined));

test('random edits over several context windows (12 tokens) with key/value caches: equal to a fresh analysis within 1e-5', () => randomEdits(22, 12));

test('an update cancelled after the models overwrote the caches leaves the previous document usable up to the kept prefix', async () => {
  const prefix = CHARS.slice(0, 6).join('');
  const first = `${prefix}${CHARS[7]}${CHARS[8]}`;
  const replaced = `${prefix}${CHARS[2]}`;
  const appended = `${first}${CHARS[9]}`;
  const live = open();
  try {
    await live.analyze(first, { latents: SELECT });
    let modelsRan = false;
    const progress: Progress = (stage) => {
      if (stage === 'chat') modelsRan = true;
    };
    // The checkpoint before the crosscoder, after both models ran on the replaced tail over the cut caches.
    const cancelAfterModels = async () => {
      if (modelsRan) throw new Error('cancelled');
    };
    await assert.rejects(live.analyze(replaced, { latents: SELECT }, cancelAfterModels, progress), /cancelled/);
    assert.ok(modelsRan, 'the cancelled update ran both models before the crosscoder');
    // `appended` shares every token of `first`, including those the cancelled update overwrote in the caches.
    assertSameAnalysis(await live.analyze(appended, { latents: SELECT }), await fresh(appended), 'append to the document before the cancelled edit');
    assertSameAnalysis(await live.analyze(replaced, { latents: SELECT }), await fresh(replaced), 'the cancelled edit again');
  } finally {
    await live.dispose();
  }
});
