/**
 * Test-only failure injection for the Slurm tests (a real cluster cannot be told to fail one task), read from
 * LATENT_DIFF_TEST_HOOK="ACTION:PHASE:SHARD[,...]":
 *   fail:examples:1  the examples task of shard 1 fails at its start (exit status 1);
 *   hold:scan:1      the scan task of shard 1 stops after its first checkpoint and waits until it is cancelled
 *                    (SIGTERM from scancel), so a test can cancel it mid-run at a known point.
 * Unset (always, outside the tests) it does nothing.
 */
import { LatentDiffError } from '../engine/errors';
import type { StatsJobHooks } from '../engine/analysis/stats/stats-job';

export function testHookFor(phase: string, shard: number | undefined, signal: AbortSignal, env: NodeJS.ProcessEnv = process.env): Pick<StatsJobHooks, 'onCheckpoint'> {
  const mine = (action: string) => (env.LATENT_DIFF_TEST_HOOK ?? '').split(',').includes(`${action}:${phase}:${shard}`);
  if (mine('fail')) throw new LatentDiffError(undefined, `LATENT_DIFF_TEST_HOOK: ${phase} of shard ${shard} fails (test hook)`, 'test-hook');
  if (!mine('hold')) return {};
  let held = false;
  return {
    onCheckpoint: () => {
      if (held) return;
      held = true;
      process.stderr.write(`latent-diff: LATENT_DIFF_TEST_HOOK: holding ${phase} of shard ${shard} after its first checkpoint\n`);
      const alive = setInterval(() => {}, 1 << 30); // a pending promise alone would let node exit
      return new Promise<void>((resolve) => signal.addEventListener('abort', () => (clearInterval(alive), resolve()), { once: true }));
    },
  };
}
