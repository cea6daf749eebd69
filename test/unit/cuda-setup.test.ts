/**
 * CUDA setup (engine/runtime/cuda-setup.ts, CLI setup-cuda) on fake Microsoft.ML.OnnxRuntime.Gpu.Linux
 * packages made here (real layout, placeholder libraries): from the package file and from folders, the
 * installer step through a stand-in process, and each way it must refuse (wrong version, corrupt archive,
 * missing libraries, no consent) without touching a setup that exists. Then that the real onnxruntime-node
 * loads its core library from the setup folder and looks for the CUDA provider there (the placeholders fail
 * to load: the failure is ORT's, not "not installed"). No CUDA here: nothing checks that CUDA runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LatentDiffError } from '../../extension/engine/errors';
import { CORE_LIBRARY, ortVersion } from '../../extension/engine/runtime/onnxruntime-core';
import { CUDA_SYSTEM_LIBRARIES, cudaSetupDir, missingLibraries, PROVIDER_LIBRARIES, readCudaSetup, setupCuda } from '../../extension/engine/runtime/cuda-setup';
import { placeholderLibrary, writeFakePackageFile, writeFakePackageFolder } from '../support/fake-cuda-package';

const ROOT = resolve(__dirname, '../..');
const VERSION = ortVersion();
const tmp = () => mkdtempSync(join(tmpdir(), 'ld-cuda-'));

async function rejectsWith(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof LatentDiffError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

function assertInstalled(dir: string): void {
  for (const lib of [...PROVIDER_LIBRARIES, CORE_LIBRARY]) assert.ok(existsSync(join(dir, lib)), `${lib} in ${dir}`);
  assert.deepEqual(readFileSync(join(dir, 'libonnxruntime_providers_cuda.so')), placeholderLibrary('libonnxruntime_providers_cuda.so'));
  assert.equal(readCudaSetup(dir)?.onnxruntimeVersion, VERSION);
  assert.deepEqual(readdirSync(join(dir, '..')), [VERSION], 'no staging folders left behind');
}

test('from the package file: the provider libraries and a copy of the core library, version recorded', async () => {
  const t = tmp();
  writeFakePackageFile(join(t, 'gpu.nupkg'), { version: VERSION });
  const into = cudaSetupDir(join(t, 'storage'));
  const r = await setupCuda({ into, from: join(t, 'gpu.nupkg') });
  assertInstalled(into);
  assert.equal(r.version, VERSION);
  assert.deepEqual(readFileSync(join(into, CORE_LIBRARY)), readFileSync(join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64', CORE_LIBRARY)));
  assert.ok(r.missingSystemLibraries.every((l) => CUDA_SYSTEM_LIBRARIES.includes(l)));
});

test('from a folder: the unpacked package (version checked) or a bare folder of libraries (noted)', async () => {
  const t = tmp();
  writeFakePackageFolder(join(t, 'unpacked'), { version: VERSION });
  const a = await setupCuda({ into: cudaSetupDir(join(t, 'a')), from: join(t, 'unpacked') });
  assertInstalled(a.dir);
  assert.deepEqual(a.notes, []);
  mkdirSync(join(t, 'bare'));
  for (const lib of PROVIDER_LIBRARIES) writeFileSync(join(t, 'bare', lib), placeholderLibrary(lib));
  const b = await setupCuda({ into: cudaSetupDir(join(t, 'b')), from: join(t, 'bare') });
  assertInstalled(b.dir);
  assert.match(b.notes.join(), /does not state its ONNX Runtime version/);
});

test('refusals name the problem and leave an existing setup as it was', async () => {
  const t = tmp();
  writeFakePackageFile(join(t, 'good.nupkg'), { version: VERSION });
  const into = cudaSetupDir(join(t, 'storage'));
  await setupCuda({ into, from: join(t, 'good.nupkg') });
  const before = readFileSync(join(into, 'setup.json'), 'utf8');

  writeFakePackageFile(join(t, 'old.nupkg'), { version: '1.29.0' });
  await rejectsWith(setupCuda({ into, from: join(t, 'old.nupkg') }), 'wrong-version', new RegExp(`old\\.nupkg: is ONNX Runtime 1\\.29\\.0, but onnxruntime-node here is ${VERSION.replace(/\./g, '\\.')}`));
  writeFakePackageFolder(join(t, 'old'), { version: '1.29.0' });
  await rejectsWith(setupCuda({ into, from: join(t, 'old') }), 'wrong-version', /1\.29\.0/);
  writeFakePackageFile(join(t, 'cpu.nupkg'), { id: 'Microsoft.ML.OnnxRuntime', version: VERSION });
  await rejectsWith(setupCuda({ into, from: join(t, 'cpu.nupkg') }), 'wrong-package', /is Microsoft\.ML\.OnnxRuntime, not Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux/);

  const whole = readFileSync(join(t, 'good.nupkg'));
  writeFileSync(join(t, 'cut.nupkg'), whole.subarray(0, whole.length >> 1));
  await rejectsWith(setupCuda({ into, from: join(t, 'cut.nupkg') }), 'corrupt-package', /cut\.nupkg: is not a readable package \(zip\) file/);
  // Damage the CUDA library's compressed bytes only: the directory still reads, the checksum does not match.
  const damaged = Buffer.from(whole);
  const at = damaged.indexOf(Buffer.from('runtimes/linux-x64/native/libonnxruntime_providers_cuda.so')) + 70;
  for (let i = 0; i < 16; i++) damaged[at + i] ^= 0x5a;
  writeFileSync(join(t, 'flipped.nupkg'), damaged);
  await rejectsWith(setupCuda({ into, from: join(t, 'flipped.nupkg') }), 'corrupt-package', /libonnxruntime_providers_cuda\.so is corrupt/);

  writeFakePackageFile(join(t, 'partial.nupkg'), { version: VERSION, libraries: ['libonnxruntime_providers_shared.so'] });
  await rejectsWith(setupCuda({ into, from: join(t, 'partial.nupkg') }), 'missing-libraries', /lacks runtimes\/linux-x64\/native\/libonnxruntime_providers_cuda\.so/);
  mkdirSync(join(t, 'empty'));
  await rejectsWith(setupCuda({ into, from: join(t, 'empty') }), 'missing-libraries', /lacks libonnxruntime_providers_shared\.so, libonnxruntime_providers_cuda\.so/);

  await rejectsWith(setupCuda({ into }), 'consent-needed', /needs your consent/);
  assert.equal(readFileSync(join(into, 'setup.json'), 'utf8'), before);
  assertInstalled(into);
});

test("onnxruntime-node's installer step runs on a copy of its package (a stand-in process here), with consent", async () => {
  const t = tmp();
  // The stand-in does what the real script does: writes the libraries into the package's bin folder.
  const standIn = join(t, 'stand-in.js');
  writeFileSync(standIn, `
    const fs = require('fs'), path = require('path');
    if (process.env.ONNXRUNTIME_NODE_INSTALL !== 'cuda12') { console.error('not asked for cuda12'); process.exit(3); }
    if (!fs.existsSync('script/install.js')) { console.error('not in a copy of onnxruntime-node'); process.exit(4); }
    const bin = path.join('bin', 'napi-v6', process.platform, process.arch);
    fs.mkdirSync(bin, { recursive: true });
    for (const l of ${JSON.stringify(PROVIDER_LIBRARIES)}) fs.writeFileSync(path.join(bin, l), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.from(('placeholder ' + l + ' ').repeat(200))]));
    console.log('installed');
  `);
  const into = cudaSetupDir(join(t, 'storage'));
  const progress: string[] = [];
  const r = await setupCuda({ into, consent: true, installer: { command: process.execPath, args: [standIn] }, onProgress: (m) => progress.push(m) });
  assertInstalled(into);
  assert.equal(r.source, "onnxruntime-node's installer");
  assert.ok(progress.includes('installed'), progress.join('\n'));
  assert.ok(!readdirSync(join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64')).some((f) => f.includes('providers')), 'node_modules untouched');

  const failing = join(t, 'failing.js');
  writeFileSync(failing, 'console.error("network unreachable"); process.exit(7);');
  await rejectsWith(setupCuda({ into: cudaSetupDir(join(t, 'other')), consent: true, installer: { command: process.execPath, args: [failing] } }), 'installer-failed', /exit code 7\): network unreachable/);
  const silent = join(t, 'silent.js');
  writeFileSync(silent, '');
  await rejectsWith(setupCuda({ into: cudaSetupDir(join(t, 'other')), consent: true, installer: { command: process.execPath, args: [silent] } }), 'missing-libraries', /installer finished without libonnxruntime_providers_shared\.so/);
});

test('the system check tells loadable libraries from missing ones (a real library under a CUDA name loads)', async () => {
  const t = tmp();
  copyFileSync('/lib/x86_64-linux-gnu/libz.so.1', join(t, 'libcudart.so.12'));
  writeFileSync(join(t, 'libcudnn.so.9'), 'not a library');
  const missing = await missingLibraries(['libcudart.so.12', 'libcudnn.so.9', 'libcublas.so.12'], { LD_LIBRARY_PATH: t });
  assert.deepEqual(missing, ['libcudnn.so.9', 'libcublas.so.12']);
});

test('with a setup, ONNX Runtime loads its core library from the setup folder and looks for CUDA there', async () => {
  const t = tmp();
  writeFakePackageFile(join(t, 'gpu.nupkg'), { version: VERSION });
  const setup = spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'setup-cuda', '--from', join(t, 'gpu.nupkg'), '--json'], { encoding: 'utf8', env: { ...process.env, XDG_DATA_HOME: t } });
  assert.equal(setup.status, 0, setup.stderr);
  const dir = JSON.parse(setup.stdout).dir as string;
  assert.equal(dir, cudaSetupDir(join(t, 'latent-diff')));

  const probe = `
    const { useCudaSetup } = require(${JSON.stringify(join(ROOT, 'extension/engine/runtime/cuda-setup.ts'))});
    const problem = useCudaSetup(${JSON.stringify(join(t, 'latent-diff'))});
    require('onnxruntime-node');
    const { loadedCoreDir } = require(${JSON.stringify(join(ROOT, 'extension/engine/runtime/onnxruntime-core.ts'))});
    console.log(JSON.stringify({ problem, loaded: loadedCoreDir() }));`;
  const p = spawnSync(process.execPath, ['--import', 'tsx', '-e', probe], { encoding: 'utf8', cwd: ROOT });
  assert.equal(p.status, 0, p.stderr);
  assert.deepEqual(JSON.parse(p.stdout), { loaded: dir });

  const sample = join(t, 'hello.txt');
  writeFileSync(sample, 'Hello there, how are you?');
  const run = spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'analyze', sample, '--provider', 'cuda', '--json'], { encoding: 'utf8', env: { ...process.env, XDG_DATA_HOME: t } });
  assert.equal(run.status, 0, run.stderr);
  const report = JSON.parse(run.stdout);
  assert.equal(report.provider, 'cpu');
  // Found beside the copied core library (else "unavailable ... not beside"), then failed to load: placeholders.
  assert.match(report.providerNote, /^cuda failed \(.*[Ff]ailed to load.*\); using cpu$/);
  // ORT's own log names the file it tried: the shared provider library in the setup folder.
  assert.ok(run.stderr.includes(join(dir, 'libonnxruntime_providers_shared.so')), run.stderr);
});
