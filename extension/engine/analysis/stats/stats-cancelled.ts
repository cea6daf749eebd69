import { LatentDiffError } from '../../errors';

/** A statistics run stopped on request; its checkpoint is saved. Light module: the host imports it at activation. */
export class StatsCancelledError extends LatentDiffError {
  constructor(out: string) {
    super(out, 'statistics run cancelled; the checkpoint is saved: run the same command with --resume to continue', 'cancelled');
  }
}
