/**
 * Patching-experiment throughput (method.md 9, issue 8) on the demo bundle: the chats of
 * models/demo/dataset.jsonl (the first CHATS) through `runKl` with the interventions none, all, chat-error and the robust set,
 * as positions/s (every position runs through the models) and scored tokens/s; against the same run's cost of
 * one unpatched chat forward (first half + second half with full log-probs) over the same chats, the ratio
 * says how many forwards the experiment costs. The Gemma-2-2B-shaped pair does not fit this machine twice over with
 * the paper's crosscoder; `npm run bench patching` measures the demo only.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { chatDocumentsOfText } from '../../extension/engine/analysis/patching/chat-documents';
import { runKl } from '../../extension/engine/analysis/patching/kl-job';
import { median, type Bench } from './bench';

const ROOT = join(__dirname, '..', '..');
/** The first chats of the demo dataset (all 186 take many minutes on a shared 2-core machine). */
const CHATS = 6;

async function run(): Promise<void> {
  const dir = join(ROOT, 'models', 'demo');
  const cacheDir = mkdtempSync(join(tmpdir(), 'ld-bench-patching-'));
  const analyzer = Analyzer.open(dir, { provider: 'cpu', cacheDir });
  try {
    const chats = readFileSync(join(dir, 'dataset.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"messages"')).slice(0, CHATS).join('\n');
    const l = await analyzer.load();
    const parts = { bundle: analyzer.bundle, ...l };
    const docs = chatDocumentsOfText(l.tokenizer, chats, 'dataset.jsonl');
    const positions = docs.reduce((a, d) => a + d.ids.length, 0);
    const req = { interventions: ['none', 'all', 'chat-error'] as ('none' | 'all' | 'chat-error')[], sets: ['robust' as const] };
    await runKl(parts, { text: chats, name: 'dataset.jsonl' }, req); // warm-up: sessions and graphs
    const experimentMs: number[] = [];
    let scored = 0;
    for (let r = 0; r < 2; r++) {
      const t = performance.now();
      scored = (await runKl(parts, { text: chats, name: 'dataset.jsonl' }, req)).tokens;
      experimentMs.push(performance.now() - t);
    }
    const forwardMs: number[] = [];
    for (let r = 0; r < 2; r++) {
      const t = performance.now();
      for (const d of docs) {
        const { resid } = await l.pair.chat.firstHalf(d.ids);
        await l.pair.chat.secondHalf(resid, undefined, { logProbs: true });
      }
      forwardMs.push(performance.now() - t);
    }
    const exp = median(experimentMs);
    const fwd = median(forwardMs);
    console.log(`demo bundle, ${docs.length} chats, ${positions} positions, ${scored} scored, interventions none/all/chat-error/robust, provider ${l.pair.provider}`);
    console.log(`  patching experiment: ${exp.toFixed(0)} ms = ${((positions / exp) * 1000).toFixed(0)} positions/s, ${((scored / exp) * 1000).toFixed(0)} scored tokens/s`);
    console.log(`  one unpatched chat forward over the same chats: ${fwd.toFixed(0)} ms`);
    console.log(`  ratio experiment / forward: ${(exp / fwd).toFixed(2)} (the experiment also runs the base first half, the crosscoder and 4 more second halves)`);
  } finally {
    await analyzer.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

export const bench: Bench = {
  name: 'patching',
  description: 'patching experiment (kl) positions/s on the demo bundle, and its cost in unpatched chat forwards',
  default: true,
  run,
};
