/**
 * Installs ONNX Runtime's CUDA provider libraries for the onnxruntime-node version in use into a folder of
 * its own (the extension's global storage, or the CLI's data folder), with a copy of the core library beside
 * them: ORT looks for provider libraries beside its core library (see onnxruntime-core.ts). Sources: the
 * Microsoft.ML.OnnxRuntime.Gpu.Linux package file of the same version, a folder holding the libraries (or
 * that package unpacked), or, with the user's consent, onnxruntime-node's own CUDA installer run on a copy
 * of its install script. Then checks that the CUDA 12 and cuDNN 9 libraries the provider needs load.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LatentDiffError } from '../errors';
import { CORE_LIBRARY, ortBinaryDir, ortPackageDir, ortVersion, preferCoreLibrary } from './onnxruntime-core';
import { extractZipEntry, readZipDirectory, readZipEntry, ZipFormatError, type ZipEntry } from './zip-reader';

export const PACKAGE_ID = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
const NATIVE = 'runtimes/linux-x64/native';
export const PROVIDER_LIBRARIES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
/** What ONNX Runtime 1.x's CUDA 12 provider links against: CUDA 12 runtime, cuBLAS, cuFFT, cuRAND, cuDNN 9. */
export const CUDA_SYSTEM_LIBRARIES = ['libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcurand.so.10', 'libcudnn.so.9'];

/** The setup folder under a storage root, one per ONNX Runtime version. */
export function cudaSetupDir(storageRoot: string, version = ortVersion()): string {
  return join(storageRoot, 'onnxruntime-cuda', version);
}

export interface Installer {
  command: string;
  args: string[];
}

export interface CudaSetupOptions {
  /** The setup folder (cudaSetupDir). */
  into: string;
  /** A package file (.nupkg) or a folder; absent: run onnxruntime-node's installer (needs consent). */
  from?: string;
  /** The user agreed to let onnxruntime-node's installer download the package. */
  consent?: boolean;
  /** Replaces onnxruntime-node's install script (run with the staging package folder as cwd). */
  installer?: Installer;
  onProgress?: (message: string) => void;
}

export interface CudaSetupResult {
  dir: string;
  version: string;
  source: string;
  /** CUDA / cuDNN libraries that do not load here (empty: the provider can run). */
  missingSystemLibraries: string[];
  notes: string[];
}

const fail = (file: string | undefined, problem: string, code = 'cuda-setup'): never => {
  throw new LatentDiffError(file, problem, code);
};

function isElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/** The id and version a .nuspec states. */
function parseNuspec(xml: string, file: string): { id: string; version: string } {
  const id = /<id>\s*([^<]+?)\s*<\/id>/.exec(xml)?.[1];
  const version = /<version>\s*([^<]+?)\s*<\/version>/.exec(xml)?.[1];
  if (!id || !version) fail(file, 'the package manifest (.nuspec) has no <id> or <version>');
  return { id: id!, version: version! };
}

function checkPackage(spec: { id: string; version: string }, file: string, version: string): void {
  if (spec.id.toLowerCase() !== PACKAGE_ID.toLowerCase()) fail(file, `is ${spec.id}, not ${PACKAGE_ID}`, 'wrong-package');
  if (spec.version !== version) fail(file, `is ONNX Runtime ${spec.version}, but onnxruntime-node here is ${version}: use the ${PACKAGE_ID} ${version} package`, 'wrong-version');
}

async function fromPackageFile(file: string, stage: string, version: string): Promise<void> {
  let entries: ZipEntry[];
  try {
    entries = await readZipDirectory(file);
  } catch (e) {
    return fail(file, `is not a readable package (zip) file: ${(e as Error).message}`, 'corrupt-package');
  }
  const nuspec = entries.find((e) => /^[^/]+\.nuspec$/i.test(e.name));
  if (!nuspec) fail(file, 'has no .nuspec manifest: not a .nupkg package file', 'wrong-package');
  try {
    checkPackage(parseNuspec((await readZipEntry(file, nuspec!)).toString('utf8'), file), file, version);
    const missing = PROVIDER_LIBRARIES.filter((l) => !entries.some((e) => e.name === `${NATIVE}/${l}`));
    if (missing.length) fail(file, `lacks ${missing.map((l) => `${NATIVE}/${l}`).join(', ')}`, 'missing-libraries');
    for (const lib of PROVIDER_LIBRARIES) await extractZipEntry(file, entries.find((e) => e.name === `${NATIVE}/${lib}`)!, join(stage, lib));
  } catch (e) {
    if (e instanceof ZipFormatError) fail(file, e.message, 'corrupt-package');
    throw e;
  }
}

/** A folder with the libraries, directly or as the unpacked package (then its .nuspec is checked too). */
function fromFolder(dir: string, stage: string, version: string, notes: string[]): void {
  const nuspec = readdirSync(dir).find((n) => n.toLowerCase().endsWith('.nuspec'));
  if (nuspec) checkPackage(parseNuspec(readFileSync(join(dir, nuspec), 'utf8'), join(dir, nuspec)), join(dir, nuspec), version);
  else notes.push(`${dir} does not state its ONNX Runtime version; the libraries are assumed to be ${version}`);
  const libDir = existsSync(join(dir, NATIVE)) ? join(dir, NATIVE) : dir;
  const missing = PROVIDER_LIBRARIES.filter((l) => !existsSync(join(libDir, l)));
  if (missing.length) fail(libDir, `lacks ${missing.join(', ')}`, 'missing-libraries');
  for (const lib of PROVIDER_LIBRARIES) copyFileSync(join(libDir, lib), join(stage, lib));
}

function run(installer: Installer, cwd: string, env: NodeJS.ProcessEnv, onLine: (s: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(installer.command, installer.args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = (d: Buffer) => String(d).split('\n').filter((l) => l.trim()).forEach(onLine);
    child.stdout.on('data', lines);
    child.stderr.on('data', lines);
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** Runs onnxruntime-node's CUDA installer on a copy of its package, so node_modules stays as it is. */
async function fromInstaller(opts: CudaSetupOptions, work: string): Promise<string> {
  const pkg = join(work, 'onnxruntime-node');
  const src = ortPackageDir();
  mkdirSync(pkg, { recursive: true });
  for (const part of ['package.json', 'script']) cpSync(join(src, part), join(pkg, part), { recursive: true });
  const installer = opts.installer ?? { command: process.execPath, args: [join(pkg, 'script', 'install.js'), '--onnxruntime-node-install=cuda12'] };
  const log: string[] = [];
  const code = await run(installer, pkg, {
    ONNXRUNTIME_NODE_INSTALL: 'cuda12',
    // The script's own dependencies (its zip reader, proxy support) resolve from the real node_modules.
    NODE_PATH: dirname(src),
    ELECTRON_RUN_AS_NODE: '1',
  }, (line) => {
    log.push(line);
    opts.onProgress?.(line);
  });
  if (code !== 0) fail(undefined, `onnxruntime-node's CUDA installer failed (exit code ${code}): ${log.slice(-3).join(' | ') || 'no output'}`, 'installer-failed');
  return ortBinaryDir(pkg);
}

/** Which of `libraries` do not load in a fresh process (so a failed load leaves nothing behind here). */
export function missingLibraries(libraries: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const script = `for (const l of JSON.parse(process.argv[1])) { try { process.dlopen({ exports: {} }, l); } catch (e) { if (!/did not self-register/.test(e.message)) console.log(JSON.stringify([l, e.message.split('\\n')[0]])); } }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, JSON.stringify(libraries)], { env: { ...process.env, ...env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', () => resolve(out.split('\n').filter(Boolean).map((l) => JSON.parse(l)[0] as string)));
  });
}

export async function setupCuda(opts: CudaSetupOptions): Promise<CudaSetupResult> {
  if (process.platform !== 'linux' || process.arch !== 'x64') fail(undefined, `CUDA setup is for Linux x64 (ONNX Runtime's ${PACKAGE_ID} package); this is ${process.platform}-${process.arch}`, 'unsupported-platform');
  if (!opts.from && !opts.consent) fail(undefined, `downloading the CUDA provider needs your consent: onnxruntime-node's installer fetches the ${PACKAGE_ID} package (several hundred MB). Or give a package file or folder you already have.`, 'consent-needed');
  if (opts.from && !existsSync(opts.from)) fail(opts.from, 'not found', 'not-found');
  const version = ortVersion();
  const stage = `${opts.into}.new-${process.pid}`;
  const work = `${opts.into}.work-${process.pid}`;
  const notes: string[] = [];
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  try {
    let source: string;
    if (opts.from && statSync(opts.from).isFile()) {
      opts.onProgress?.(`Extracting the CUDA provider from ${opts.from}`);
      await fromPackageFile(opts.from, stage, version);
      source = opts.from;
    } else if (opts.from) {
      opts.onProgress?.(`Copying the CUDA provider from ${opts.from}`);
      fromFolder(opts.from, stage, version, notes);
      source = opts.from;
    } else {
      opts.onProgress?.("Running onnxruntime-node's CUDA installer");
      const installed = await fromInstaller(opts, work);
      const missing = PROVIDER_LIBRARIES.filter((l) => !existsSync(join(installed, l)));
      if (missing.length) fail(installed, `the installer finished without ${missing.join(', ')}`, 'missing-libraries');
      for (const lib of PROVIDER_LIBRARIES) copyFileSync(join(installed, lib), join(stage, lib));
      source = "onnxruntime-node's installer";
    }
    for (const lib of PROVIDER_LIBRARIES) if (!isElf(join(stage, lib))) fail(opts.from ?? source, `${lib} is not a shared library (no ELF header)`, 'corrupt-package');
    copyFileSync(join(ortBinaryDir(), CORE_LIBRARY), join(stage, CORE_LIBRARY));
    writeFileSync(join(stage, 'setup.json'), JSON.stringify({ onnxruntimeVersion: version, source, libraries: PROVIDER_LIBRARIES }, null, 2) + '\n');
    // Replace the old folder only once the new one is complete (files a running process mapped stay valid).
    rmSync(opts.into, { recursive: true, force: true });
    mkdirSync(dirname(opts.into), { recursive: true });
    renameSync(stage, opts.into);
    opts.onProgress?.('Checking that the CUDA 12 and cuDNN 9 libraries load');
    const missingSystemLibraries = await missingLibraries(CUDA_SYSTEM_LIBRARIES);
    return { dir: opts.into, version, source, missingSystemLibraries, notes };
  } finally {
    rmSync(stage, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

/** What a setup did and what is still missing, one line each, for the CLI and the Output channel. */
export function cudaSetupSummary(r: CudaSetupResult): string[] {
  const lines = [`CUDA provider for ONNX Runtime ${r.version} installed in ${r.dir} (from ${r.source})`, ...r.notes.map((n) => `note: ${n}`)];
  if (r.missingSystemLibraries.length) {
    lines.push(`not loadable here: ${r.missingSystemLibraries.join(', ')}. The CUDA provider needs CUDA 12 and cuDNN 9 on the library path (LD_LIBRARY_PATH or ldconfig); until then analyses fall back to another provider and say why.`);
  } else {
    lines.push(`CUDA 12 and cuDNN 9 libraries load (${CUDA_SYSTEM_LIBRARIES.join(', ')}). Use the provider cuda or auto.`);
  }
  return lines;
}

/** What a setup folder holds, or undefined when there is none for this version. */
export function readCudaSetup(dir: string): { onnxruntimeVersion: string; source: string } | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'setup.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Makes this process use the CUDA setup under `storageRoot`, if there is one; call before anything loads
 * onnxruntime-node. Returns why a setup that exists cannot be used.
 */
export function useCudaSetup(storageRoot: string): string | undefined {
  const dir = cudaSetupDir(storageRoot);
  return readCudaSetup(dir) ? preferCoreLibrary(dir) : undefined;
}
