import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import type { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { DEMO, openDemoEncoder } from './demo-encoder';
import { runStatsJob, StatsCancelledError, type StatsJobOptions } from '../../extension/engine/analysis/stats/stats-job';
import { mergeStatsRuns } from '../../extension/engine/analysis/stats/merge-runs';
import type { SequenceEncoder } from '../../extension/engine/analysis/stats/sequence-encoder';
import { readFeatureDf } from '../../extension/engine/analysis/feature-df';

const DATA = join(DEMO, 'dataset.jsonl');
const TOKENS = 4000;
const root = mkdtempSync(join(tmpdir(), 'ld-stats-'));
const cacheDir = join(root, 'cache');
let encoder: SequenceEncoder;
let tokenizer: GemmaTokenizer;

before(async () => {
  ({ encoder, tokenizer } = await openDemoEncoder(cacheDir));
});

const base = (out: string, extra: Partial<StatsJobOptions> = {}): StatsJobOptions => ({ data: [DATA], out: join(root, out), bundle: DEMO, tokens: TOKENS, cacheDir, ...extra });
const run = (out: string, extra: Partial<StatsJobOptions> = {}, enc: SequenceEncoder = encoder, signal?: AbortSignal) =>
  runStatsJob(base(out, extra), { encoder: enc, tokenizer, signal });

/** All rows of the three paper tables, in a fixed order. */
function dbRows(path: string): string {
  const db = new Database(path, { readOnly: true });
  try {
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    return JSON.stringify({
      s: db.all('SELECT sequence_idx, token_ids FROM sequences ORDER BY 1').map((r) => [r.sequence_idx, hex(r.token_ids as Uint8Array)]),
      q: db.all('SELECT * FROM quantile_examples ORDER BY feature_idx, sequence_idx'),
      a: db.all('SELECT * FROM activation_details ORDER BY feature_idx, sequence_idx').map((r) => [r.feature_idx, r.sequence_idx, hex(r.positions as Uint8Array), hex(r.activation_values as Uint8Array)]),
    });
  } finally {
    db.close();
  }
}

let single: { featureDf: string; examplesDb: string };

test('a single run writes feature_df.csv and examples.db', async () => {
  const r = await run('single');
  assert.ok(r.featureDf && r.examplesDb);
  single = { featureDf: r.featureDf, examplesDb: r.examplesDb };
  const df = readFeatureDf(r.featureDf);
  assert.equal(df.latents.length, 512);
  assert.equal(df.convention, 'paper');
  assert.ok(df.numbers.get('freq')!.some((v) => v > 0));
});

test('demo bundle: Latent Scaling separates the planted artifacts that Delta-norm calls chat-only', () => {
  const gt = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8')).latents as Record<string, { role: string }>;
  const df = readFeatureDf(single.featureDf);
  const row = (j: number) => df.latents.indexOf(j);
  const verdict = df.strings.get('verdict')!;
  const tag = df.strings.get('tag')!;
  const nuEps = df.numbers.get('nu_eps')!;
  const nuR = df.numbers.get('nu_r')!;
  const roles = Object.entries(gt).map(([id, v]) => [Number(id), v.role] as const);
  const planted = roles.filter(([, role]) => ['robust-chat-only', 'complete-shrinkage', 'latent-decoupling'].includes(role));
  assert.ok(planted.length >= 3);
  for (const [j, role] of planted) {
    assert.equal(tag[row(j)], 'Chat only', `latent ${j} (${role}) should look chat-only by Delta-norm`);
    if (role === 'robust-chat-only') {
      assert.equal(verdict[row(j)], 'robust-chat-specific', `latent ${j}: nu_eps ${nuEps[row(j)]}, nu_r ${nuR[row(j)]}`);
    } else if (role === 'complete-shrinkage') {
      assert.ok(nuEps[row(j)] >= 0.2, `latent ${j} should be flagged by nu_eps, got ${nuEps[row(j)]}`);
      assert.equal(verdict[row(j)], 'complete-shrinkage');
    } else {
      assert.ok(nuR[row(j)] >= 0.5, `latent ${j} should be flagged by nu_r, got ${nuR[row(j)]}`);
      assert.equal(verdict[row(j)], 'latent-decoupling');
    }
  }
  for (const [j, role] of roles) {
    if (role === 'shared') assert.equal(verdict[row(j)], 'shared');
    if (role === 'base-only') assert.equal(verdict[row(j)], 'base-only');
  }
});

test('4 shards merged give exactly the single-run files', async () => {
  const shard = (i: number) => ({ index: i, count: 4 });
  const scans = [];
  for (let i = 0; i < 4; i++) {
    const r = await run(`scan${i}`, { shard: shard(i) });
    assert.equal(r.featureDf, undefined, 'a shard alone writes no final table');
    scans.push(r.out);
  }
  // merged out of order, in two steps: grouping must not matter
  const ab = mergeStatsRuns([scans[2], scans[0]], join(root, 'scan-20'));
  assert.equal(ab.featureDf, undefined);
  const merged = mergeStatsRuns([scans[3], ab.out, scans[1]], join(root, 'scan-all'));
  assert.ok(merged.featureDf);
  const examples = [];
  for (let i = 0; i < 4; i++) examples.push((await run(`ex${i}`, { shard: shard(i), maxFrom: merged.out })).out);
  const final = mergeStatsRuns([merged.out, ...examples.reverse()], join(root, 'final'));
  assert.ok(final.featureDf && final.examplesDb);
  // the shard runs' settings differ from the single run's only in the shard count, which is not in the files
  assert.ok(readFileSync(final.featureDf).equals(readFileSync(single.featureDf)), 'feature_df.csv differs from the single run');
  assert.equal(dbRows(final.examplesDb), dbRows(single.examplesDb));
});

test('a run cancelled mid-scan and mid-examples resumes to the uninterrupted result', async () => {
  for (const [stopAt, phase] of [[7, 'scan'], [100, 'examples']] as const) {
    const controller = new AbortController();
    let calls = 0;
    const stopping: SequenceEncoder = {
      provider: 'cpu',
      dispose: async () => {},
      encode: async (ids) => {
        if (++calls === stopAt) controller.abort();
        return encoder.encode(ids);
      },
    };
    const out = `resumed-${stopAt}`;
    await assert.rejects(run(out, {}, stopping, controller.signal), StatsCancelledError);
    assert.equal(existsSync(join(root, out, 'feature_df.csv')), false);
    const saved = JSON.parse(readFileSync(join(root, out, 'state', 'manifest.json'), 'utf8'));
    assert.equal(saved[phase].status, 'running', `cancelled at model call ${stopAt}: expected to be inside the ${phase} pass`);
    await assert.rejects(run(out), /--resume/);
    const r = await run(out, { resume: true });
    assert.ok(readFileSync(r.featureDf!).equals(readFileSync(single.featureDf)), `feature_df.csv differs after resuming at call ${stopAt}`);
    assert.equal(dbRows(r.examplesDb!), dbRows(single.examplesDb));
  }
});

test('a run killed hard (SIGKILL) mid-scan resumes from its last checkpoint to the uninterrupted result', async () => {
  const out = join(root, 'killed');
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(__dirname, 'stats-kill-child.ts'), out, DEMO, DATA, String(TOKENS), cacheDir, '23'], { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  assert.equal(existsSync(join(out, 'feature_df.csv')), false);
  const saved = JSON.parse(readFileSync(join(out, 'state', 'manifest.json'), 'utf8'));
  assert.equal(saved.scan.status, 'running');
  assert.ok(saved.scan.recordsDone >= 20, `the checkpoint should hold the records before the crash, has ${saved.scan.recordsDone}`);
  const r = await run('killed', { resume: true });
  assert.ok(readFileSync(r.featureDf!).equals(readFileSync(single.featureDf)), 'feature_df.csv differs after the crash');
  assert.equal(dbRows(r.examplesDb!), dbRows(single.examplesDb));
});

test('examples.db opens with the sqlite3 command line and has the paper tables and columns', (t) => {
  try {
    execFileSync('sqlite3', ['-version']);
  } catch {
    t.skip('sqlite3 command line not installed');
    return;
  }
  const q = (sql: string) => execFileSync('sqlite3', [single.examplesDb, sql], { encoding: 'utf8' }).trim();
  assert.equal(q("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type='table' ORDER BY name)"), 'activation_details,quantile_examples,sequences');
  assert.equal(q("SELECT group_concat(name, ',') FROM pragma_table_info('quantile_examples')"), 'feature_idx,quantile_idx,activation,sequence_idx');
  assert.equal(q("SELECT group_concat(name, ',') FROM pragma_table_info('activation_details')"), 'feature_idx,sequence_idx,positions,activation_values');
  assert.equal(q("SELECT group_concat(name, ',') FROM pragma_table_info('sequences')"), 'sequence_idx,token_ids');
  assert.equal(q('PRAGMA integrity_check'), 'ok');
  // token ids are little-endian int32 and every sequence starts with <bos> (id 2)
  assert.equal(q('SELECT DISTINCT hex(substr(token_ids, 1, 4)) FROM sequences'), '02000000');
  assert.equal(q('SELECT count(*) FROM activation_details WHERE length(positions) != length(activation_values)'), '0');
});
