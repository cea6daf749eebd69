/** `latent-diff merge PARTS... --out DIR`: combines shard runs exactly (engine: analysis/stats/merge-runs.ts). */
import { resolve } from 'node:path';
import { mergeStatsRuns } from '../engine/analysis/stats/merge-runs';
import { parseArgs, UsageError } from './args';
import { statsSummary } from './stats';

export const MERGE_USAGE = `latent-diff merge PARTS... --out DIR
  Merge the state of \`latent-diff stats --shard i/n\` runs (and of earlier merges) into DIR. Scans add
  exactly; examples merge as bottom-k samples. Once every shard is in, DIR gets feature_df.csv (all scans)
  and examples.db (all examples passes), identical to a single run over the same data.`;

export async function runMerge(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { out: 'string' });
  const out = args.flags.get('out')?.[0];
  if (!out) throw new UsageError('merge needs --out DIR');
  if (!args.positional.length) throw new UsageError('merge needs the folders of the runs to merge');
  process.stdout.write(statsSummary(mergeStatsRuns(args.positional.map((p) => resolve(p)), resolve(out))));
  return 0;
}
