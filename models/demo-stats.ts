/**
 * Adds precomputed statistics to the generated demo bundle: runs the offline statistics job (Latent
 * Scaling, frequencies, max-activating examples) on the demo dataset, moves feature_df.csv and examples.db
 * into models/demo/ and names them in bundle.json, so the demo shows Latent Scaling's verdicts at once.
 * Deterministic (fixed seed). Run after generate-demo.ts:
 *
 *   node --import tsx models/demo-stats.ts [--if-stale]
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { runStatsJob } from '../extension/engine/analysis/stats/stats-job';

const HERE = dirname(new URL(import.meta.url).pathname);
const DEMO = join(HERE, 'demo');
const ENGINE = resolve(HERE, '../extension/engine');

/** The demo's own stamp plus every engine source: statistics are redone when either changes. */
function stamp(): string {
  const h = createHash('sha256').update(readFileSync(join(DEMO, '.stamp')));
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts')) h.update(p).update(readFileSync(p));
    }
  };
  walk(ENGINE);
  return h.digest('hex').slice(0, 16);
}

async function main(): Promise<void> {
  const stampFile = join(DEMO, '.stats-stamp');
  const current = stamp();
  if (process.argv.includes('--if-stale') && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === current) return;
  const bundleFile = join(DEMO, 'bundle.json');
  const bundle = JSON.parse(readFileSync(bundleFile, 'utf8'));
  delete bundle.stats;
  delete bundle.examples;
  writeFileSync(bundleFile, JSON.stringify(bundle, null, 2) + '\n');
  const out = join(DEMO, '.stats-run');
  rmSync(out, { recursive: true, force: true });
  const result = await runStatsJob({ data: [join(DEMO, 'dataset.jsonl')], out, bundle: DEMO, provider: 'cpu', seed: 42 });
  if (!result.featureDf || !result.examplesDb) throw new Error('demo statistics: the job did not write feature_df.csv and examples.db');
  renameSync(result.featureDf, join(DEMO, 'feature_df.csv'));
  renameSync(result.examplesDb, join(DEMO, 'examples.db'));
  rmSync(out, { recursive: true, force: true });
  writeFileSync(bundleFile, JSON.stringify({ ...bundle, stats: 'feature_df.csv', examples: 'examples.db' }, null, 2) + '\n');
  writeFileSync(stampFile, current);
  console.log('demo bundle statistics written (feature_df.csv, examples.db)');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
