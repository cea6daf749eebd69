/**
 * Datasets at their edges, through the real readers and the real statistics job on the demo bundle: a BOM
 * keeps the first record, a .json file may be one JSON array or one pretty-printed record (with each
 * record's real line), a Parquet text column of the wrong type is named with its type, bad records are
 * counted and reported once (not once per pass), and data with nothing readable is refused naming the file
 * and the first bad lines, leaving no half-made run behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { readDatasets } from '../../extension/engine/datasets/open-dataset';
import type { BadRecord } from '../../extension/engine/datasets/records';
import { LatentDiffError } from '../../extension/engine/errors';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { runStatsJob } from '../../extension/engine/analysis/stats/stats-job';
import { openSequenceEncoder, type SequenceEncoder } from '../../extension/engine/analysis/stats/sequence-encoder';

const DEMO = join(__dirname, '..', '..', 'models', 'demo');
const dir = mkdtempSync(join(tmpdir(), 'ld-data-edges-'));
const cacheDir = join(dir, 'cache');

async function collect(file: string, bad: BadRecord[] = []) {
  const out = [];
  for await (const r of readDatasets([file], { onSkip: (b) => bad.push(b) })) out.push(r.record);
  return out;
}
const texts = (recs: Awaited<ReturnType<typeof collect>>) => recs.map((r) => [r.kind === 'text' ? r.text : r.messages.map((m) => m.content).join('|'), r.line]);

test('a UTF-8 byte-order mark does not cost the first record', async () => {
  const jsonl = join(dir, 'bom.jsonl');
  writeFileSync(jsonl, '\ufeff{"text":"first"}\n{"text":"second"}\n');
  const bad: BadRecord[] = [];
  assert.deepEqual(texts(await collect(jsonl, bad)), [['first', 1], ['second', 2]]);
  assert.equal(bad.length, 0);
  const txt = join(dir, 'bom.txt');
  writeFileSync(txt, '\ufeffHello there\n');
  assert.deepEqual(texts(await collect(txt)), [['Hello there', 1]]);
});

test('a .json file holding a JSON array of records, or one record over several lines', async () => {
  const array = join(dir, 'array.json');
  writeFileSync(array, '[\n  {"text": "one"},\n  {\n    "messages": [{"role": "user", "content": "hi"}]\n  },\n  42,\n  {"text": "four"}\n]\n');
  const bad: BadRecord[] = [];
  assert.deepEqual(texts(await collect(array, bad)), [['one', 2], ['hi', 3], ['four', 7]]);
  assert.deepEqual(bad.map((b) => b.line), [6]);
  const pretty = join(dir, 'pretty.json');
  writeFileSync(pretty, '{\n  "text": "a record\\nover lines"\n}\n');
  assert.deepEqual(texts(await collect(pretty)), [['a record\nover lines', 1]]);
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '[\n  {"text": "one"},\n');
  await assert.rejects(collect(broken), (e: unknown) => e instanceof LatentDiffError && e.file === broken && /neither one JSON document/.test(e.message));
});

test('a Parquet text column that holds numbers is refused, naming the column and its type', async () => {
  const file = join(dir, 'ints.parquet');
  writeFileSync(file, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'text', data: [1, 2, 3], type: 'INT32' }] })));
  await assert.rejects(collect(file), (e: unknown) => e instanceof LatentDiffError && e.file === file && /column "text" holds INT32, not text/.test(e.message));
});

let encoder: SequenceEncoder;
let tokenizer: GemmaTokenizer;
before(async () => {
  const bundle = loadBundle(DEMO);
  encoder = await openSequenceEncoder(bundle, await loadOrComputeLatentMetrics(bundle.crosscoder, { cacheDir }), { provider: 'cpu', cacheDir });
  tokenizer = GemmaTokenizer.fromFiles(bundle.tokenizer.json, bundle.tokenizer.config);
});
after(() => encoder.dispose());

const stats = (data: string, out: string, onBadRecord?: (b: BadRecord) => void) =>
  runStatsJob({ data: [data], out: join(dir, out), bundle: DEMO, tokens: 400, cacheDir, checkpointSeconds: 3600 }, { encoder, tokenizer, onBadRecord });

test('bad records are counted and reported once, though both passes read them', async () => {
  const file = join(dir, 'some-bad.jsonl');
  writeFileSync(file, ['{"text":"Hello there, a plain document."}', 'oops', '{"text":"Another document with words."}', '{"other":1}'].join('\n'));
  const reported: BadRecord[] = [];
  const r = await stats(file, 'some-bad', (b) => reported.push(b));
  assert.ok(r.featureDf && r.examplesDb);
  assert.equal(r.skippedRecords, 2);
  assert.deepEqual(reported.map((b) => b.line), [2, 4]);
});

test('data with nothing to read is refused, naming the file and the first bad lines', async () => {
  const cases: [string, string, RegExp][] = [
    ['empty.jsonl', '', /holds no text/],
    ['blank.jsonl', '\n  \n\n', /holds no text/],
    ['blank.txt', '\n\n', /holds no text/],
    ['all-bad.jsonl', 'x\n{"a":1}\n[1]\n{"text":3}\n', /all 4 record\(s\) are unreadable \(first: .*all-bad\.jsonl:1: not valid JSON.*all-bad\.jsonl:2: has neither.*all-bad\.jsonl:3: expected a JSON object/],
  ];
  for (const [name, content, message] of cases) {
    const file = join(dir, name);
    writeFileSync(file, content);
    await assert.rejects(stats(file, `out-${name}`), (e: unknown) => e instanceof LatentDiffError && e.file === file && message.test(e.message), name);
    assert.ok(!existsSync(join(dir, `out-${name}`, 'state', 'manifest.json')), `${name}: no half-made run is left to resume`);
  }
});
