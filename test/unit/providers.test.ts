/** Execution-provider choice: ORT does not fall back by itself, so createSession must, and say why. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { createSession, expectedProvider, type ProviderChoice } from '../../extension/engine/runtime/providers';

const MODEL = join(resolve(__dirname, '../../models/demo'), 'base.onnx');

test('asking for cuda where it cannot run gives a working cpu session and the reason', async () => {
  const choice: ProviderChoice = {};
  const session = await createSession(MODEL, 'cuda', choice);
  try {
    assert.ok(session.outputNames.includes('resid'));
    if (choice.current === 'cpu') {
      assert.match(choice.fallbackReason ?? '', /^cuda (unavailable|failed) .*using cpu/);
      assert.equal(expectedProvider('auto'), 'cpu');
    } else {
      assert.equal(choice.current, 'cuda', 'a machine with the CUDA provider uses it');
    }
  } finally {
    await session.release();
  }
});

test('the cpu setting never tries another provider', async () => {
  const choice: ProviderChoice = {};
  const session = await createSession(MODEL, 'cpu', choice);
  await session.release();
  assert.equal(choice.current, 'cpu');
  assert.equal(choice.fallbackReason, undefined);
});
