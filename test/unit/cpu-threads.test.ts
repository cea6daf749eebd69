/**
 * ORT's intra-op thread count: physical cores read from a sysfs CPU topology written in the test (hyperthread
 * siblings counted once, packages apart, capped by the usable CPUs; an unreadable tree falls back to the usable
 * CPUs), and session options get that count and non-spinning threads unless the caller set them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { physicalCores, withCpuThreads } from '../../extension/engine/runtime/cpu-threads';

const DEMO = resolve(__dirname, '../../models/demo');

function topology(cpus: [pkg: number, core: number][]): string {
  const dir = mkdtempSync(join(tmpdir(), 'ld-sysfs-'));
  cpus.forEach(([pkg, core], i) => {
    mkdirSync(join(dir, `cpu${i}`, 'topology'), { recursive: true });
    writeFileSync(join(dir, `cpu${i}`, 'topology', 'physical_package_id'), `${pkg}\n`);
    writeFileSync(join(dir, `cpu${i}`, 'topology', 'core_id'), `${core}\n`);
  });
  mkdirSync(join(dir, 'cpufreq'));
  writeFileSync(join(dir, 'online'), '0-7\n');
  return dir;
}

test('physical cores: hyperthread siblings once, the same core id in two packages twice, capped by the usable CPUs', () => {
  const smt = topology([[0, 0], [0, 1], [0, 0], [0, 1], [1, 0], [1, 1], [1, 0], [1, 1]]);
  try {
    assert.equal(physicalCores(smt, 8), 4);
    assert.equal(physicalCores(smt, 3), 3);
  } finally {
    rmSync(smt, { recursive: true, force: true });
  }
  const plain = topology([[0, 0], [0, 1]]);
  try {
    assert.equal(physicalCores(plain, 2), 2);
  } finally {
    rmSync(plain, { recursive: true, force: true });
  }
});

test('physical cores: an unreadable topology falls back to the usable CPUs', () => {
  assert.equal(physicalCores(join(tmpdir(), 'ld-no-such-sysfs'), 6), 6);
  const broken = topology([[0, 0], [0, 1]]);
  try {
    rmSync(join(broken, 'cpu1', 'topology', 'core_id'));
    assert.equal(physicalCores(broken, 5), 5);
  } finally {
    rmSync(broken, { recursive: true, force: true });
  }
});

test('session options get the physical core count as intra-op threads and no spinning, unless the caller set them', () => {
  const set = withCpuThreads({ executionProviders: ['cpu'], extra: { session: { disable_prepacking: '1' } } });
  assert.equal(set.intraOpNumThreads, physicalCores());
  assert.deepEqual(set.executionProviders, ['cpu']);
  assert.deepEqual(set.extra, { session: { 'intra_op.allow_spinning': '0', disable_prepacking: '1' } });
  const own = withCpuThreads({ intraOpNumThreads: 3, extra: { session: { 'intra_op.allow_spinning': '1' } } });
  assert.equal(own.intraOpNumThreads, 3);
  assert.deepEqual(own.extra, { session: { 'intra_op.allow_spinning': '1' } });
});

/** Threads of this process (Linux). */
const threadsNow = () => readdirSync('/proc/self/task').length;

test('the cpuThreads option reaches every ONNX Runtime session an analysis opens (threads counted in /proc)', { skip: !existsSync('/proc/self/task') }, async () => {
  // ORT starts n - 1 pool threads per session with n intra-op threads; the difference between two thread
  // counts is therefore (difference - 0) x sessions, whatever else the process starts once.
  const added = async (cpuThreads: number) => {
    const a = Analyzer.open(DEMO, { provider: 'cpu', cacheDir: mkdtempSync(join(tmpdir(), 'ld-threads-')), cpuThreads });
    try {
      await a.load();
      const before = threadsNow();
      await a.analyze('Hello there, how are you?');
      const opened = threadsNow();
      await a.dispose();
      return { before, opened, after: threadsNow() };
    } catch (e) {
      await a.dispose();
      throw e;
    }
  };
  await added(1);
  const one = await added(1);
  const five = await added(5);
  // Each session with 5 threads has 4 pool threads more than with 1: loading opens both models, the analysis
  // the crosscoder's session, and disposing the analyzer closes all three.
  assert.equal(five.before - one.before, 2 * 4, `the two models' sessions: ${JSON.stringify({ one, five })}`);
  assert.equal(five.opened - five.before - (one.opened - one.before), 4, 'the crosscoder session of an analysis');
  assert.equal(five.opened - five.after - (one.opened - one.after), 3 * 4, 'all three closed');
  await assert.rejects(Analyzer.open(DEMO, { provider: 'cpu', cacheDir: mkdtempSync(join(tmpdir(), 'ld-threads-')), cpuThreads: 0.5 }).load(), /CPU thread count must be a positive integer, got 0\.5/);
});
