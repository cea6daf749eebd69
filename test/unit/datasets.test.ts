import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { readDatasets } from '../../extension/engine/datasets/open-dataset';
import type { BadRecord } from '../../extension/engine/datasets/records';
import { LatentDiffError } from '../../extension/engine/errors';
import { markTemplateTokens } from '../../extension/engine/analysis/stats/sequences';

const dir = mkdtempSync(join(tmpdir(), 'ld-data-'));

async function collect(files: string[], opts = {}) {
  const out = [];
  for await (const r of readDatasets(files, opts)) out.push(r);
  return out;
}

test('JSONL: text and chat records, bad lines reported with file:line and skipped', async () => {
  const file = join(dir, 'mixed.jsonl');
  writeFileSync(file, [
    '{"text":"plain document"}',
    '',
    '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}',
    'not json',
    '{"text":"<start_of_turn>user\\nq<end_of_turn>\\n<start_of_turn>model\\na<end_of_turn>\\n"}',
    '{"messages":[{"role":"user"}]}',
    '{"other":1}',
    '{"text":"<bos>with bos"}',
  ].join('\r\n'));
  const bad: BadRecord[] = [];
  const recs = await collect([file], { onSkip: (b: BadRecord) => bad.push(b) });
  assert.deepEqual(recs.map((r) => [r.index, r.record.kind, r.record.line]), [[0, 'text', 1], [1, 'messages', 3], [2, 'text', 5], [3, 'text', 8]]);
  assert.deepEqual(bad.map((b) => b.line), [4, 6, 7]);
  assert.match(bad[0].problem, /not valid JSON/);
  assert.match(bad[1].problem, /messages\[0\]/);
  const r2 = recs[2].record;
  assert.ok(r2.kind === 'text' && r2.templated && !r2.hasBos);
  const r3 = recs[3].record;
  assert.ok(r3.kind === 'text' && r3.hasBos && !r3.templated);
  assert.equal(recs.at(-1)!.fraction, 1);
  await assert.rejects(collect([file], { onBadRecord: 'fail' }), (e: unknown) => e instanceof LatentDiffError && e.file === `${file}:4`);
});

test('plain text: one record per paragraph; records are numbered across files', async () => {
  const a = join(dir, 'a.txt');
  writeFileSync(a, 'first line\nsecond line\n\n\nnext paragraph\n');
  const b = join(dir, 'b.jsonl');
  writeFileSync(b, '{"text":"x"}\n');
  const recs = await collect([a, b]);
  assert.deepEqual(recs.map((r) => [r.index, r.record.kind === 'text' && r.record.text, r.record.line]), [[0, 'first line\nsecond line', 1], [1, 'next paragraph', 5], [2, 'x', 1]]);
});

test('Parquet: the text column row group by row group, null rows reported, missing column named', async () => {
  const file = join(dir, 'lmsys.parquet');
  const texts = Array.from({ length: 25 }, (_, i) => (i === 7 ? null : `<start_of_turn>user\nq${i}<end_of_turn>\n`));
  const buf = parquetWriteBuffer({ columnData: [{ name: 'text', data: texts, type: 'STRING' }, { name: 'id', data: texts.map((_, i) => i), type: 'INT32' }], rowGroupSize: 10 });
  writeFileSync(file, new Uint8Array(buf));
  const bad: BadRecord[] = [];
  const recs = await collect([file], { onSkip: (b: BadRecord) => bad.push(b) });
  assert.equal(recs.length, 24);
  assert.deepEqual(bad.map((b) => b.line), [8]);
  assert.ok(recs.every((r) => r.record.kind === 'text' && r.record.templated));
  assert.equal(recs[8].record.kind === 'text' && recs[8].record.text, texts[9]);
  await assert.rejects(collect([file], { textColumn: 'conversation' }), /no column "conversation".*text, id/);
  const notParquet = join(dir, 'bad.parquet');
  writeFileSync(notParquet, 'hello');
  await assert.rejects(collect([notParquet]), (e: unknown) => e instanceof LatentDiffError && e.file === notParquet);
});

test('template tokens are marked by id: 5 per turn, counted 1..10 per turn pair; assistant = model content + <end_of_turn>', () => {
  const T = { startOfTurn: 106, endOfTurn: 107, newline: 108, model: 2516 };
  // <bos> <sot> user \n Hi <eot> \n <sot> model \n Yo ! <eot> \n
  const ids = [2, 106, 1645, 108, 555, 107, 108, 106, 2516, 108, 777, 888, 107, 108];
  const { ctrl, assistant } = markTemplateTokens(ids, T);
  assert.deepEqual(Array.from(ctrl), [0, 1, 2, 3, 0, 4, 5, 6, 7, 8, 0, 0, 9, 10]);
  assert.deepEqual(Array.from(assistant), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0]);
});
