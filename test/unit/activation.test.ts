/** Activation stays cheap: loading and activating the built extension starts no ONNX Runtime. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { probeActivation } from '../support/activation-probe';

test('activate() loads no onnxruntime module and registers its commands and views', () => {
  const probe = probeActivation(resolve(__dirname, '../..'));
  assert.equal(probe.heavyModules, 0);
  assert.ok(probe.subscriptions >= 20);
});
