/** The statistics job on its own worker thread (dist/stats-worker.js): results, progress, cancellation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { StatsCancelledError } from '../../extension/engine/analysis/stats/stats-job';
import { runStatsInWorker } from '../../extension/engine/worker/stats-client';

const ROOT = resolve(__dirname, '../..');
const WORKER = join(ROOT, 'dist/stats-worker.js');
const options = (out: string) => ({ data: [join(ROOT, 'models/demo/dataset.jsonl')], out, bundle: join(ROOT, 'models/demo'), provider: 'cpu' as const, tokens: 3000, cacheDir: join(out, 'cache') });

test('a statistics job in the worker writes both files and reports progress', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ld-statsw-'));
  const phases = new Set<string>();
  const result = await runStatsInWorker(WORKER, options(out), { onProgress: (p) => phases.add(p.phase) });
  assert.ok(result.featureDf && existsSync(result.featureDf));
  assert.ok(result.examplesDb && existsSync(result.examplesDb));
  assert.deepEqual([...phases].sort(), ['examples', 'scan']);
});

test('aborting rejects with StatsCancelledError and leaves a resumable checkpoint', async () => {
  const out = mkdtempSync(join(tmpdir(), 'ld-statsw-'));
  const controller = new AbortController();
  const run = runStatsInWorker(WORKER, options(out), { signal: controller.signal, onProgress: () => controller.abort() });
  await assert.rejects(run, StatsCancelledError);
  assert.ok(existsSync(join(out, 'state', 'manifest.json')));
  const resumed = await runStatsInWorker(WORKER, { ...options(out), resume: true });
  assert.ok(resumed.featureDf && existsSync(resumed.featureDf));
});
