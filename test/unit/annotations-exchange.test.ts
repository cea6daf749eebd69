import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCsv, writeCsv } from '../../extension/engine/csv';
import { AnnotationStore } from '../../extension/engine/annotations/store';
import { latentDiffErrorFromAsync } from '../support/errors';

const root = mkdtempSync(join(tmpdir(), 'ld-annotation-exchange-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const open = (identity = 'cc-1') => AnnotationStore.open(join(root, `a${n++}.json`), identity, { watch: false });

async function rejects(fn: () => unknown, pattern: RegExp, file: string): Promise<void> {
  const caught = await latentDiffErrorFromAsync(fn);
  assert.equal(caught.file, file);
  assert.match(caught.message, pattern);
}

/** Seeded random strings drawn from characters that CSV must quote, plus ordinary and non-BMP ones. */
function randomText(seed: number): string {
  const alphabet = ['a', 'Z', ' ', ',', '"', '\n', '\r\n', '\r', 'é', '😀', '\t', ';', "'", '=1+2'];
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) % 2147483648), s / 2147483648);
  const len = Math.floor(next() * 12);
  let out = '';
  for (let i = 0; i < len; i++) out += alphabet[Math.floor(next() * alphabet.length)];
  return out;
}

test('CSV writer and parser round-trip fields with commas, quotes, CR/LF line breaks and spaces', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rows = Array.from({ length: 1 + (seed % 4) }, (_, r) => Array.from({ length: 3 }, (_, c) => randomText(seed * 31 + r * 7 + c)));
    rows[0][0] = rows[0][0] || 'x'; // a row of one empty field is a blank line
    assert.deepEqual(parseCsv(writeCsv(rows), 'f.csv'), rows, `seed ${seed}`);
  }
  assert.deepEqual(parseCsv('\ufeffa,b\r\n"x, ""y""",\n', 'f.csv'), [['a', 'b'], ['x, "y"', '']]);
});

test('malformed CSV: errors name the file and the line', async () => {
  await rejects(() => parseCsv('a,b\n"open,field\n', 'bad.csv'), /line 2: a quoted field is never closed/, 'bad.csv');
  await rejects(() => parseCsv('a,b\nx"y,1\n', 'bad.csv'), /line 2: a quote inside an unquoted field/, 'bad.csv');
  await rejects(() => parseCsv('"a"b,c\n', 'bad.csv'), /line 1: unexpected "b" after a closing quote/, 'bad.csv');
});

test('store CSV export imports back into another store unchanged (labels, notes, status, evidence)', async () => {
  const a = open();
  await a.upsert(12, { label: 'says "hello", politely', notes: 'line one\nline two, with comma\r\nand "quotes"', status: 'confirmed' });
  await a.upsert(3, { label: ' padded ', status: 'rejected' });
  await a.addEvidence(12, {
    file: 'samples/a,b.txt',
    range: { start: { line: 1, character: 0 }, end: { line: 2, character: 4 } },
    activation: 2.5,
    text: 'multi\n"line"',
  });
  const b = open();
  const summary = await b.importCsv(a.exportCsv(), 'a.csv');
  assert.deepEqual(summary, { imported: 2, source: 'CSV' });
  const strip = (s: AnnotationStore) => s.all().map(({ updatedAt: _u, ...rest }) => rest);
  assert.deepEqual(strip(b), strip(a));
  a.dispose();
  b.dispose();
});

test('CSV import: header aliases, missing optional columns, bad rows named', async () => {
  const s = open();
  await s.upsert(4, { notes: 'keep my notes' });
  assert.equal((await s.importCsv('latent_id,description\n4,chat turn\n10,"digits, mostly"\n')).imported, 2);
  assert.deepEqual(s.get(4)?.notes, 'keep my notes');
  assert.deepEqual(s.all().map((r) => [r.latent, r.label]), [[4, 'chat turn'], [10, 'digits, mostly']]);
  await rejects(() => s.importCsv('label\nx\n', 'l.csv'), /no "latent" column/, 'l.csv');
  await rejects(() => s.importCsv('latent,label\nabc,x\n', 'l.csv'), /row 2, latent: "abc" is not a latent id/, 'l.csv');
  await rejects(() => s.importCsv('latent,status\n1,maybe\n', 'l.csv'), /row 2, status: expected one of/, 'l.csv');
  await rejects(() => s.importCsv('latent,label\n1,a,b\n', 'l.csv'), /row 2: 3 fields, the header has 2/, 'l.csv');
  await rejects(() => s.importCsv('latent,evidence\n1,"[{""file"":1}]"\n', 'l.csv'), /evidence\[0\]/, 'l.csv');
  assert.equal(s.all().length, 2, 'failed imports change nothing');
  s.dispose();
});

test('import of the paper\'s hand labels {latent id: text}; export back to that format', async () => {
  const s = open();
  await s.upsert(7, { notes: 'my notes', status: 'confirmed' });
  const summary = await s.importJson('{\n  "7": "knowledge gap identifier",\n  "70149": "self-identity, \\"I am\\"",\n  "0": "bos"\n}', 'labels.json');
  assert.deepEqual(summary, { imported: 3, source: 'hand labels (latent id -> text)' });
  assert.deepEqual(s.get(7), { ...s.get(7), label: 'knowledge gap identifier', notes: 'my notes', status: 'confirmed' });
  assert.equal(s.get(70149)?.label, 'self-identity, "I am"');
  assert.equal(s.get(70149)?.status, 'hypothesis');
  assert.deepEqual(JSON.parse(s.exportLabelsJson()), { '0': 'bos', '7': 'knowledge gap identifier', '70149': 'self-identity, "I am"' });
  await rejects(() => s.importJson('{"seven": "x"}', 'labels.json'), /"seven" is not a latent id/, 'labels.json');
  await rejects(() => s.importJson('{"7": {"text": "x"}}', 'labels.json'), /hand labels\["7"\]: expected the label text/, 'labels.json');
  await rejects(() => s.importJson('["x"]', 'labels.json'), /expected a JSON object/, 'labels.json');
  await rejects(() => s.importJson('{"7": "x"', 'labels.json'), /not valid JSON/, 'labels.json');
  s.dispose();
});

test('our own JSON export imports into another store; a single foreign crosscoder section is accepted', async () => {
  const a = open('cc-1');
  await a.upsert(2, { label: 'two', notes: 'n', status: 'confirmed' });
  await a.addEvidence(2, { file: 'x.txt', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } }, activation: 1 });
  const exported = a.exportJson();
  assert.equal(exported, readFileSync(a.filePath, 'utf8'));
  const b = open('cc-1');
  assert.deepEqual(await b.importJson(exported), { imported: 1, source: 'this crosscoder' });
  assert.deepEqual((await b.importJson(exported)).imported, 1, 'importing twice does not duplicate evidence');
  assert.equal(b.get(2)?.evidence.length, 1);
  const c = open('cc-2');
  assert.deepEqual(await c.importJson(exported), { imported: 1, source: 'crosscoder cc-1' });
  assert.equal(c.get(2)?.label, 'two');
  const two = '{"format":"latent-diff-annotations","version":1,"crosscoders":{"p":{},"q":{}}}';
  await rejects(() => c.importJson(two, 'many.json'), /no annotations for this crosscoder \(cc-2\); it has p, q/, 'many.json');
  for (const s of [a, b, c]) s.dispose();
});
