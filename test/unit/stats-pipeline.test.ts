/**
 * The sharded pipeline's phases (engine/analysis/stats/pipeline.ts) run in-process, as Kubernetes or Slurm tasks
 * would run them, checked against a single run of the same data: the published feature_df.csv is byte-identical;
 * a finished phase does not run again; a merge refuses a shard that is not finished; an interrupted shard
 * resumes. And `stats-status` over that folder with a given queue (squeue's answer passed in; the real squeue is
 * exercised by test/slurm).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { DEMO, openDemoEncoder } from './demo-encoder';
import { runStatsJob, StatsCancelledError, type StatsJobOptions } from '../../extension/engine/analysis/stats/stats-job';
import { runPipelinePhase, type PipelinePhase } from '../../extension/engine/analysis/stats/pipeline';
import type { SequenceEncoder } from '../../extension/engine/analysis/stats/sequence-encoder';
import { LatentDiffError } from '../../extension/engine/errors';
import { statsStatus } from '../../extension/cli/stats-status';
import { pipelineRecordPath } from '../../extension/cli/slurm-submit';

const DATA = join(DEMO, 'dataset.jsonl');
const root = mkdtempSync(join(tmpdir(), 'ld-pipeline-'));
const cacheDir = join(root, 'cache');
let encoder: SequenceEncoder;
let tokenizer: GemmaTokenizer;

before(async () => {
  ({ encoder, tokenizer } = await openDemoEncoder(cacheDir));
});

const opts = (out: string, shard: { index: number; count: number }): StatsJobOptions => ({ data: [DATA], out, bundle: DEMO, tokens: 3000, cacheDir, shard, checkpointSeconds: 0 });
const phase = (p: PipelinePhase, out: string, index = 0, signal?: AbortSignal) => runPipelinePhase(p, opts(out, { index, count: 3 }), { encoder, tokenizer, signal });

test('the four phases give the single run\'s feature_df.csv; done phases do not run again; merges wait for every shard', async () => {
  const single = await runStatsJob({ ...opts(join(root, 'single'), { index: 0, count: 1 }), shard: undefined }, { encoder, tokenizer });
  const out = join(root, 'pipeline');
  assert.equal((await phase('scan', out, 0)).ran, true);
  assert.equal((await phase('scan', out, 0)).ran, false, 'a finished shard is not computed again');
  await assert.rejects(phase('merge-scan', out), (e: unknown) => e instanceof LatentDiffError && /no state\/manifest.json/.test(e.message));
  // shard 1 cancelled after some records: the merge refuses it, then it resumes
  const controller = new AbortController();
  let calls = 0;
  const stopping: SequenceEncoder = { provider: 'cpu', dispose: async () => {}, encode: async (ids) => (++calls === 5 && controller.abort(), encoder.encode(ids)) };
  await assert.rejects(runPipelinePhase('scan', opts(out, { index: 1, count: 3 }), { encoder: stopping, tokenizer, signal: controller.signal }), StatsCancelledError);
  await phase('scan', out, 2);
  await assert.rejects(phase('merge-scan', out), (e: unknown) => e instanceof LatentDiffError && /not finished/.test(e.message));
  await assert.rejects(phase('examples', out, 0), /merged scan is missing/);
  await phase('scan', out, 1);
  await phase('merge-scan', out);
  for (const i of [2, 0, 1]) await phase('examples', out, i);
  const last = await phase('merge', out);
  assert.ok(last.ran && last.result?.featureDf);
  assert.ok(readFileSync(join(out, 'feature_df.csv')).equals(readFileSync(single.featureDf!)), 'feature_df.csv differs from the single run');
  assert.ok(readFileSync(join(out, 'examples.db')).equals(readFileSync(single.examplesDb!)), 'examples.db differs from the single run');
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'feature_df.meta.json'), 'utf8')), JSON.parse(readFileSync(join(root, 'single', 'feature_df.meta.json'), 'utf8')));
  assert.equal((await phase('merge', out)).ran, false);
});

test('stats-status: done, running per the queue, interrupted, failed and missing', async () => {
  const out = join(root, 'status');
  await phase('scan', out, 0);
  const controller = new AbortController();
  let calls = 0;
  const stopping: SequenceEncoder = { provider: 'cpu', dispose: async () => {}, encode: async (ids) => (++calls === 3 && controller.abort(), encoder.encode(ids)) };
  await assert.rejects(runPipelinePhase('scan', opts(out, { index: 2, count: 3 }), { encoder: stopping, tokenizer, signal: controller.signal }), StatsCancelledError);
  mkdirSync(join(out, 'slurm'), { recursive: true });
  writeFileSync(pipelineRecordPath(out), JSON.stringify({ shardCount: 3, args: [], cwd: root, jobs: [{ phase: 'scan', id: '40', shards: [0, 1, 2] }, { phase: 'merge-scan', id: '41' }] }));
  const running = statsStatus(out, () => new Map([['40_1', 'RUNNING'], ['41', 'PENDING']]));
  assert.match(running, /scan 0: done \(\d+ tokens\)/);
  assert.match(running, /scan 1: running \(job 40_1\)/);
  assert.match(running, /scan 2: interrupted \(\d+ tokens, [\d.]+% of the data read, ETA \d+ s\): submit the same command again/);
  assert.match(running, /merge-scan: pending \(job 41\)/);
  assert.match(running, /examples 0: missing/);
  const gone = statsStatus(out, () => new Map());
  assert.match(gone, /scan 1: failed or cancelled \(job 40_1/);
  assert.match(gone, /merge-scan: failed or cancelled/);
});
