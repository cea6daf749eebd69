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

/** As latentDiffErrorFrom, for a function that may return a promise: its rejection counts as a throw. */
export async function latentDiffErrorFromAsync(fn: () => unknown): Promise<LatentDiffError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof LatentDiffError, `expected a LatentDiffError, got ${caught}`);
  return caught;
}
