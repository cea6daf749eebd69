import { LatentDiffError } from '../errors';
import type { BadRecord, DatasetReadOptions } from './records';

/** Applies the bad-record policy: throws for 'fail', reports and returns for 'skip'. */
export function badRecord(opts: DatasetReadOptions, bad: BadRecord): void {
  if (opts.onBadRecord === 'fail') {
    throw new LatentDiffError(`${bad.file}:${bad.line}`, `${bad.problem} (pass --bad-lines skip to skip such records)`, 'bad-record');
  }
  opts.onSkip?.(bad);
}
