import assert from 'node:assert/strict';
import { LatentDiffError } from '../../extension/engine/errors';

/** Runs `fn`, asserts it throws a LatentDiffError (not a crash, not another error) and returns it. */
export function latentDiffErrorFrom(fn: () => unknown): LatentDiffError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof LatentDiffError, `expected a LatentDiffError, got ${caught}`);
  return caught;
}
