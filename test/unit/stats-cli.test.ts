import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statsOptions, statsSummary } from '../../extension/cli/stats';
import { runMerge } from '../../extension/cli/merge';
import { UsageError } from '../../extension/cli/args';
import { LatentDiffError } from '../../extension/engine/errors';
import { runStatsJob } from '../../extension/engine/analysis/stats/stats-job';

const root = join(__dirname, '..', '..');

test('stats options: defaults, the demo bundle, shards and thresholds', () => {
  const o = statsOptions(['--data', 'a.jsonl', 'b.parquet', '--out', 'o', '--shard', '1/4', '--error-latents', 'all', '--tokens', '1000', '--ld-threshold', '0.6'], root);
  assert.deepEqual(o.shard, { index: 1, count: 4 });
  assert.equal(o.errorLatents, 'all');
  assert.equal(o.tokens, 1000);
  assert.equal(o.data.length, 2);
  assert.equal(o.bundle, join(root, 'models', 'demo'));
  assert.deepEqual(o.thresholds, { completeShrinkage: 0.2, latentDecoupling: 0.6, nuSign: 'signed' });
  assert.deepEqual(statsOptions(['--data', 'a', '--out', 'o', '--error-latents', 'paper'], root).errorLatents, { paper: 3176 });
  assert.deepEqual(statsOptions(['--data', 'a', '--out', 'o', '--error-latents', 'paper:500', '--nu-sign', 'absolute'], root).thresholds?.nuSign, 'absolute');
  assert.equal(statsOptions(['--data', 'a', '--out', 'o', '--error-latents', '300'], root).errorLatents, 300);
});

test('stats usage errors say which option is wrong', () => {
  const bad: [string[], RegExp][] = [
    [['--out', 'o'], /--data/],
    [['--data', 'a'], /--out/],
    [['--data', 'a', '--out', 'o', '--shard', '4/4'], /--shard must be i\/n/],
    [['--data', 'a', '--out', 'o', '--shard', 'x'], /--shard/],
    [['--data', 'a', '--out', 'o', '--tokens', '0'], /--tokens/],
    [['--data', 'a', '--out', 'o', '--error-latents', 'some'], /--error-latents/],
    [['--data', 'a', '--out', 'o', '--bad-lines', 'maybe'], /--bad-lines/],
    [['--data', 'a', '--out', 'o', '--frobnicate'], /unknown option --frobnicate/],
  ];
  for (const [argv, re] of bad) assert.throws(() => statsOptions(argv, root), (e: unknown) => e instanceof UsageError && re.test(e.message), argv.join(' '));
});

test('the job refuses missing data files and bad shards with the file and the problem', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ld-cli-'));
  const bundle = join(root, 'models', 'demo');
  await assert.rejects(runStatsJob({ data: [join(out, 'nope.jsonl')], out, bundle }), (e: unknown) => e instanceof LatentDiffError && e.file === join(out, 'nope.jsonl'));
  await assert.rejects(runStatsJob({ data: [join(bundle, 'dataset.jsonl')], out, bundle, shard: { index: 2, count: 2 } }), /--shard/);
});

test('merge refuses folders that are not statistics runs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-merge-'));
  await assert.rejects(runMerge([dir, '--out', join(dir, 'm')]), (e: unknown) => e instanceof LatentDiffError && e.file === dir && /no state\/manifest.json/.test(e.message));
  await assert.rejects(runMerge([dir]), UsageError);
});

test('the summary tells a shard what to do next', () => {
  const s = statsSummary({ out: '/o', shardCount: 4, scanShards: [2], examplesShards: [], skippedRecords: 3, provider: 'cpu' });
  assert.match(s, /scan of shard 2\/4 saved .*latent-diff merge/);
  assert.match(s, /3 unreadable record/);
});
