/**
 * Child process for stats-job.test.ts: runs the demo statistics job with a checkpoint after every record and
 * SIGKILLs itself inside the model call number KILL_AT (no cancel path, no cleanup: a hard crash).
 */
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import { runStatsJob } from '../../extension/engine/analysis/stats/stats-job';
import { openSequenceEncoder } from '../../extension/engine/analysis/stats/sequence-encoder';

const [out, bundleDir, data, tokens, cacheDir, killAt] = process.argv.slice(2);

(async () => {
  const bundle = loadBundle(bundleDir);
  const inner = await openSequenceEncoder(bundle, await loadOrComputeLatentMetrics(bundle.crosscoder, { cacheDir }), { provider: 'cpu', cacheDir });
  let calls = 0;
  await runStatsJob(
    { data: [data], out, bundle: bundleDir, tokens: Number(tokens), cacheDir, checkpointSeconds: 0 },
    {
      encoder: {
        provider: 'cpu',
        dispose: () => inner.dispose(),
        encode: async (ids) => {
          if (++calls === Number(killAt)) process.kill(process.pid, 'SIGKILL');
          return inner.encode(ids);
        },
      },
    },
  );
})();
