/**
 * `latent-diff stats --slurm 3` on a real single-node Slurm cluster (slurm-cluster.ts), checked against a
 * single-process `latent-diff stats` run of the same demo data: the final feature_df.csv and examples.db are
 * byte-identical. Then a scan task is cancelled mid-run (scancel, once it has written a checkpoint) and an
 * examples task fails (the test-only LATENT_DIFF_TEST_HOOK, cli/test-hooks.ts); resubmitting the same command
 * gives the same bytes again, and no shard is computed twice: finished parts keep their state files untouched,
 * and the tokens all jobs encoded add up to exactly those of the single run.
 * Skips only when Slurm is not installed and CI is not set; under CI=true a missing Slurm fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { slurmMissing, startSlurmCluster, type SlurmCluster } from './slurm-cluster';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const DATA = join(ROOT, 'models', 'demo', 'dataset.jsonl');
const ARGS = ['--data', DATA, '--tokens', '4000', '--provider', 'cpu'];
const missing = slurmMissing();
if (missing && process.env.CI) throw new Error(`CI is set, so the Slurm tests must run: ${missing}`);
const skip = missing ? `skipped: ${missing}` : false;

const work = mkdtempSync(join(tmpdir(), 'ld-slurm-run-'));
let cluster: SlurmCluster;

function cli(args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, `latent-diff ${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Submits the pipeline and returns the job ids it printed. */
function submit(out: string, hook?: string): string[] {
  const env = { ...cluster.env, ...(hook ? { LATENT_DIFF_TEST_HOOK: hook } : {}) };
  const stdout = cli(['stats', ...ARGS, '--checkpoint-seconds', '0', '--out', out, '--slurm', '3', '--sbatch=--cpus-per-task=1'], env);
  return [...stdout.matchAll(/^[\w-]+: job (\d+)/gm)].map((m) => m[1]);
}

const jobOf = (out: string, phase: string) => JSON.parse(readFileSync(join(out, 'slurm', 'pipeline.json'), 'utf8')).jobs.find((j: { phase: string }) => j.phase === phase).id as string;
const manifestText = (dir: string) => readFileSync(join(dir, 'state', 'manifest.json'), 'utf8');
const part = (out: string, name: string) => join(out, 'parts', name);

/** Tokens encoded as the runs report them ("tokens encoded in this run: scan X, examples Y"), summed. */
function encoded(text: string): [number, number] {
  let scan = 0;
  let examples = 0;
  for (const m of text.matchAll(/tokens encoded in this run: scan (\d+), examples (\d+)/g)) {
    scan += Number(m[1]);
    examples += Number(m[2]);
  }
  return [scan, examples];
}
const logsOf = (out: string) => readdirSync(join(out, 'slurm', 'logs')).map((f) => readFileSync(join(out, 'slurm', 'logs', f), 'utf8')).join('\n');

let reference: { featureDf: Buffer; examplesDb: Buffer; encoded: [number, number] };

before(async () => {
  if (skip) return;
  cluster = await startSlurmCluster();
  const out = join(work, 'single');
  const stdout = cli(['stats', ...ARGS, '--out', out]);
  reference = { featureDf: readFileSync(join(out, 'feature_df.csv')), examplesDb: readFileSync(join(out, 'examples.db')), encoded: encoded(stdout) };
  assert.ok(reference.encoded[0] > 0 && reference.encoded[1] > 0);
});

after(async () => {
  await cluster?.stop();
  rmSync(work, { recursive: true, force: true });
});

function assertSameOutputs(out: string): void {
  assert.ok(readFileSync(join(out, 'feature_df.csv')).equals(reference.featureDf), 'feature_df.csv differs from the single-process run');
  assert.ok(readFileSync(join(out, 'examples.db')).equals(reference.examplesDb), 'examples.db differs from the single-process run');
}

test('--slurm 3 gives byte-identical feature_df.csv and examples.db to a single-process run', { skip }, async () => {
  const out = join(work, 'slurm');
  const ids = submit(out);
  assert.equal(ids.length, 4, 'a scan array, a merge, an examples array and a final merge');
  await cluster.waitGone(ids);
  assertSameOutputs(out);
  assert.deepEqual(encoded(logsOf(out)), reference.encoded, 'the jobs encoded other tokens than the single run');
  assert.match(cli(['stats-status', out], cluster.env), /merge: done/);
  assert.match(cli(['stats', ...ARGS, '--checkpoint-seconds', '0', '--out', out, '--slurm', '3', '--sbatch=--cpus-per-task=1'], cluster.env), /nothing to do/);
});

test('a cancelled scan task and a failed examples task: resubmitting finishes with the same bytes, no shard computed twice', { skip }, async () => {
  const out = join(work, 'resubmit');
  // 1: scan task 1 holds after its first checkpoint and is cancelled there; the examples task 1 would fail
  const first = submit(out, 'hold:scan:1,fail:examples:1');
  const scanJob = jobOf(out, 'scan');
  const checkpointed = () => existsSync(join(part(out, 'scan-1'), 'state', 'manifest.json')) && JSON.parse(manifestText(part(out, 'scan-1'))).scan?.recordsDone > 0;
  for (let t0 = Date.now(); !checkpointed(); ) {
    assert.ok(Date.now() - t0 < 300_000, 'scan task 1 never wrote a checkpoint');
    await new Promise((r) => setTimeout(r, 200));
  }
  cluster.client('scancel', [`${scanJob}_1`]);
  await cluster.waitGone(first);
  const interrupted = JSON.parse(manifestText(part(out, 'scan-1'))).scan;
  assert.equal(interrupted.status, 'running', 'the cancelled task left its checkpoint');
  assert.ok(!existsSync(part(out, 'scan-merged')), 'the merge must not run over a cancelled shard');
  const status = cli(['stats-status', out], cluster.env);
  assert.match(status, /scan 0: done/);
  assert.match(status, /scan 1: interrupted/);
  assert.match(status, /merge-scan: failed or cancelled/);
  const finished = new Map(['scan-0', 'scan-2'].map((p) => [p, manifestText(part(out, p))]));

  // 2: only scan 1 (resumed from its checkpoint) and what follows are submitted; examples task 1 fails
  const second = submit(out, 'fail:examples:1');
  assert.match(readFileSync(join(out, 'slurm', 'scan.sh'), 'utf8'), /#SBATCH --array=1\n/);
  await cluster.waitGone(second);
  assert.match(cli(['stats-status', out], cluster.env), /examples 1: failed or cancelled/);
  assert.ok(!existsSync(join(out, 'feature_df.csv')));
  for (const p of ['scan-1', 'scan-merged', 'examples-0', 'examples-2']) finished.set(p, manifestText(part(out, p)));

  // 3: only examples 1 and the final merge are left
  const third = submit(out);
  assert.equal(third.length, 2);
  assert.match(readFileSync(join(out, 'slurm', 'examples.sh'), 'utf8'), /#SBATCH --array=1\n/);
  await cluster.waitGone(third);
  assertSameOutputs(out);
  for (const [p, text] of finished) assert.equal(manifestText(part(out, p)), text, `${p} was computed again`);
  assert.deepEqual(encoded(logsOf(out)), reference.encoded, 'the jobs together encoded other tokens than the single run: some work was done twice or not at all');
});
