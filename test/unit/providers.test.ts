/**
 * Execution-provider choice against the real onnxruntime-node: ORT does not fall back by itself, so createSession
 * must, and say why; auto's WebGPU adapter check (Mesa's device list parsed; a software adapter never chosen).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { createSession, expectedProvider, type ProviderChoice } from '../../extension/engine/runtime/providers';
import { providerSettings } from '../../extension/engine/runtime/provider-settings';
import { describeAdapter, isSoftwareAdapter, listWebGpuAdapters, parseVulkanDeviceList, preferredAdapter } from '../../extension/engine/runtime/webgpu-adapter';

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

test('the Vulkan device list is read, software adapters recognised, and the adapter Dawn prefers reported', () => {
  const list = `selectable devices:
  GPU 0: 10005:0 "llvmpipe (LLVM 15.0.6, 256 bits)" CPU
  GPU 1: 8086:9a49 "Intel(R) Xe Graphics (TGL GT2)" integrated GPU
  GPU 2: 10de:2335 "NVIDIA H200" discrete GPU default
`;
  const adapters = parseVulkanDeviceList(list);
  assert.deepEqual(adapters.map((a) => [a.vendorId, a.deviceId, a.type, isSoftwareAdapter(a)]), [
    ['0x10005', '0x0', 'CPU', true],
    ['0x8086', '0x9a49', 'integrated GPU', false],
    ['0x10de', '0x2335', 'discrete GPU', false],
  ]);
  assert.equal(describeAdapter(preferredAdapter(adapters)), 'NVIDIA H200 (vendor 0x10de, device 0x2335, discrete GPU, Vulkan)');
  assert.equal(preferredAdapter(adapters.slice(0, 2))?.name, 'Intel(R) Xe Graphics (TGL GT2)');
  assert.deepEqual(parseVulkanDeviceList('no devices here'), []);
});

test('auto says why it skipped each earlier provider; never a software WebGPU adapter', async () => {
  const choice: ProviderChoice = {};
  const session = await createSession(MODEL, 'auto', choice);
  await session.release();
  const listed = await listWebGpuAdapters();
  if (choice.current === 'cpu') {
    assert.match(choice.fallbackReason ?? '', /^cuda (unavailable|failed) .*; webgpu (skipped by auto|unavailable|failed) .*; using cpu$/);
    // On a machine with only a software Vulkan driver (lavapipe), auto names it and leaves it alone.
    if (listed.length && listed.every(isSoftwareAdapter)) assert.match(choice.fallbackReason!, /webgpu skipped by auto \(only a software adapter: llvmpipe/);
  }
  if (choice.current === 'webgpu') assert.ok(!/llvmpipe|lavapipe|swiftshader/i.test(choice.adapter ?? ''), choice.adapter);
});

test('dml is offered on Windows only; elsewhere asking for it falls back with the reason', async () => {
  assert.ok(providerSettings('win32').includes('dml'));
  assert.ok(!providerSettings('linux').includes('dml'));
  if (process.platform === 'win32') return;
  const choice: ProviderChoice = {};
  const session = await createSession(MODEL, 'dml', choice);
  await session.release();
  assert.equal(choice.current, 'cpu');
  assert.equal(choice.fallbackReason, 'dml unavailable (DirectML is only in the Windows build of ONNX Runtime); using cpu');
});
