import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFeatureDf, writeFeatureDf } from '../../extension/engine/analysis/feature-df';
import { LatentDiffError } from '../../extension/engine/errors';

const dir = mkdtempSync(join(tmpdir(), 'ld-df-'));

test('numbers, NaN, infinities, booleans and quoted strings survive a write/read round trip', () => {
  const path = join(dir, 'ours.csv');
  const x = [0.1 + 0.2, NaN, -Infinity, 1e-300, 123456789.125];
  writeFeatureDf(path, [3, 1, 4, 1000, 5], [
    { name: 'delta_norm', kind: 'number', values: [0.95, 0.5, 0.02, NaN, 1] },
    { name: 'x', kind: 'number', values: x },
    { name: 'tag', kind: 'string', values: ['Chat only', 'Shared', 'Base only', 'Other', 'a "quoted", text\nwith a newline'] },
    { name: 'complete_shrinkage', kind: 'boolean', values: [true, false, undefined, true, false] },
  ]);
  const df = readFeatureDf(path);
  assert.deepEqual(Array.from(df.latents), [3, 1, 4, 1000, 5]);
  assert.equal(df.convention, 'paper');
  const got = Array.from(df.numbers.get('x')!);
  assert.equal(got[0], 0.1 + 0.2);
  assert.ok(Number.isNaN(got[1]));
  assert.deepEqual([got[2], got[3], got[4]], [-Infinity, 1e-300, 123456789.125]);
  assert.deepEqual(df.strings.get('tag'), ['Chat only', 'Shared', 'Base only', 'Other', 'a "quoted", text\nwith a newline']);
  const cs = Array.from(df.numbers.get('complete_shrinkage')!);
  assert.deepEqual([cs[0], cs[1], cs[3]], [1, 0, 1]);
  assert.ok(Number.isNaN(cs[2]));
  assert.equal(Array.from(df.deltaNorm!)[0], 0.95);
});

test("a published table in the code's convention (dec_norm_diff, pandas index) gives Delta-norm = 1 - dec_norm_diff", () => {
  const path = join(dir, 'published.csv');
  writeFileSync(path, [
    ',dec_base_norm,dec_instruct_norm,dec_norm_diff,tag,beta_ratio_error,beta_ratio_reconstruction',
    '0,0.1,1.2,0.0416,Chat only,0.05,0.3',
    '1,0.9,0.85,0.52,Shared,,',
    '2,1.5,0.1,0.9667,Base only,nan,inf',
  ].join('\r\n') + '\r\n');
  const df = readFeatureDf(path);
  assert.equal(df.convention, 'code');
  const dn = Array.from(df.deltaNorm!);
  assert.ok(Math.abs(dn[0] - 0.9584) < 1e-12 && Math.abs(dn[1] - 0.48) < 1e-12 && Math.abs(dn[2] - 0.0333) < 1e-12);
  assert.ok(Number.isNaN(df.numbers.get('beta_ratio_error')![1]));
  assert.equal(df.numbers.get('beta_ratio_reconstruction')![2], Infinity);
  assert.deepEqual(df.strings.get('tag'), ['Chat only', 'Shared', 'Base only']);
  assert.ok(readFileSync(path, 'utf8').length > 0);
});

test('malformed tables are reported with the file and the problem', () => {
  const ragged = join(dir, 'ragged.csv');
  writeFileSync(ragged, 'latent,a\n0,1\n1,2,3\n');
  assert.throws(() => readFeatureDf(ragged), (e: unknown) => e instanceof LatentDiffError && e.file === ragged && /row 3 has 3 fields/.test(e.message));
  const badId = join(dir, 'bad-id.csv');
  writeFileSync(badId, 'latent,a\nx,1\n');
  assert.throws(() => readFeatureDf(badId), /latent id/);
  assert.throws(() => readFeatureDf(join(dir, 'missing.csv')), (e: unknown) => e instanceof LatentDiffError && e.code === 'not-found');
});
