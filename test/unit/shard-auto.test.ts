/**
 * `--shard auto` (cli/shard-auto.ts) against the variables Slurm job arrays and Kubernetes Indexed Jobs set, as
 * platform-notes.md records them from a real Slurm: the shard i/n, a refusal for arrays that are not 0-(n-1), and a
 * clear error when no batch system set anything. Also `--shard auto` in `latent-diff stats`, --sbatch word splitting
 * and the scripts `--slurm --dry-run` prints (without a Slurm: nothing is submitted).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { autoShard } from '../../extension/cli/shard-auto';
import { UsageError } from '../../extension/cli/args';
import { statsOptions } from '../../extension/cli/stats';
import { splitShellWords, submitPipeline } from '../../extension/cli/slurm-submit';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const slurm = (id: number, min: number, max: number, count: number, step = 1) => ({
  SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: String(min), SLURM_ARRAY_TASK_MAX: String(max),
  SLURM_ARRAY_TASK_COUNT: String(count), SLURM_ARRAY_TASK_STEP: String(step), SLURM_ARRAY_JOB_ID: '77',
});
const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message);

test('Slurm array 0-(n-1): the task id and count are the shard', () => {
  for (let i = 0; i < 5; i++) assert.deepEqual(autoShard(slurm(i, 0, 4, 5)), { index: i, count: 5 });
});

test('Slurm arrays that are not 0-(n-1) need --shard-count; with it the task id is the index', () => {
  // resubmitting the missing shards 1 and 4 of 6 gives --array=1,4: COUNT=2, MIN=1, MAX=4
  assert.throws(() => autoShard(slurm(4, 1, 4, 2)), usage(/not --array=0-1.*--shard-count/));
  assert.throws(() => autoShard(slurm(2, 0, 4, 3, 2)), usage(/step 2/));
  assert.deepEqual(autoShard(slurm(4, 1, 4, 2), 6), { index: 4, count: 6 });
  assert.throws(() => autoShard(slurm(6, 1, 6, 2), 6), usage(/task 6, but there are only 6 shards/));
});

test('Kubernetes Indexed Job: JOB_COMPLETION_INDEX with --shard-count', () => {
  assert.deepEqual(autoShard({ JOB_COMPLETION_INDEX: '3' }, 8), { index: 3, count: 8 });
  assert.throws(() => autoShard({ JOB_COMPLETION_INDEX: '3' }), usage(/JOB_COMPLETION_INDEX.*needs --shard-count/));
  assert.throws(() => autoShard({ JOB_COMPLETION_INDEX: 'x' }, 8), usage(/not a task index/));
});

test('no batch system: a clear refusal', () => {
  assert.throws(() => autoShard({}), usage(/not inside a Slurm job array \(SLURM_ARRAY_TASK_ID\) or a Kubernetes Indexed Job \(JOB_COMPLETION_INDEX\)/));
  assert.throws(() => autoShard({}, 4), usage(/--shard i\/n/));
});

test('stats --shard auto reads the environment it is given', () => {
  const root = join(__dirname, '..', '..');
  const o = statsOptions(['--data', 'a', '--out', 'o', '--shard', 'auto'], root, slurm(2, 0, 2, 3));
  assert.deepEqual(o.shard, { index: 2, count: 3 });
  const k = statsOptions(['--data', 'a', '--out', 'o', '--shard', 'auto', '--shard-count', '4'], root, { JOB_COMPLETION_INDEX: '1' });
  assert.deepEqual(k.shard, { index: 1, count: 4 });
  assert.throws(() => statsOptions(['--data', 'a', '--out', 'o', '--shard', 'auto'], root, {}), UsageError);
});

test('--sbatch "EXTRA ARGS" is split into words like a shell, quotes kept together', () => {
  assert.deepEqual(splitShellWords(`--partition=gpu --gres=gpu:1 --comment="two words" -A 'my acct'`), ['--partition=gpu', '--gres=gpu:1', '--comment=two words', '-A', 'my acct']);
});

test('--slurm N --dry-run prints the four job scripts and their afterok chain, and submits nothing', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'ld-dry-')), 'run');
  const text = submitPipeline({ out, record: { shardCount: 3, args: ['--data', '/d/a b.jsonl'], cwd: '/w' }, cli: ['/usr/bin/node', '/x/cli.js'], sbatchExtra: ['--partition=gpu'] }, true);
  const scripts = text.split('# sbatch ').slice(1);
  assert.deepEqual(scripts.map((s) => /--job-name=latent-diff-([\w-]+)/.exec(s)![1]), ['scan', 'merge-scan', 'examples', 'merge']);
  assert.match(scripts[0], /^--partition=gpu \S+scan\.sh\n/);
  assert.match(scripts[1], /^--dependency=afterok:\$SCAN_JOB --partition=gpu/);
  assert.match(scripts[3], /^--dependency=afterok:\$EXAMPLES_JOB/);
  assert.match(scripts[0], /#SBATCH --array=0,1,2\n/);
  assert.match(scripts[0], /#SBATCH --kill-on-invalid-dep=yes\n/);
  assert.match(scripts[0], /\nexec \/usr\/bin\/node \/x\/cli\.js stats --data '\/d\/a b\.jsonl' --out \S+ --shard auto --shard-count 3 --phase scan\n/);
  assert.match(scripts[1], /--shard-count 3 --phase merge-scan\n/);
  assert.equal(existsSync(out), false, 'a dry run writes nothing');
});
