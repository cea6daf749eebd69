/**
 * Which ONNX Runtime core library the process uses. ORT looks for execution-provider libraries
 * (libonnxruntime_providers_{shared,cuda}.so) in the folder of its own core library. The npm package's core
 * library lives in node_modules, which an extension update replaces, so a CUDA setup keeps its own copy of
 * the core library beside the provider libraries, and preferCoreLibrary() loads that copy before the binding
 * does. The binding's dependency on libonnxruntime.so.1 is then met, by soname, by the copy already in the
 * process, and ORT finds the providers beside it (measured with onnxruntime-node 1.30 on Linux x64; the copy
 * must be loaded RTLD_NODELETE, or Node unloads it again when it turns out not to be a Node module).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** glibc's RTLD_NODELETE: Node's os.constants.dlopen does not list it. */
const RTLD_NODELETE = 0x1000;

export const CORE_LIBRARY = process.platform === 'win32' ? 'onnxruntime.dll' : process.platform === 'darwin' ? 'libonnxruntime.1.dylib' : 'libonnxruntime.so.1';

export function ortPackageDir(): string {
  return dirname(require.resolve('onnxruntime-node/package.json'));
}

/** The onnxruntime-node version in use: provider libraries must come from the same ONNX Runtime release. */
export function ortVersion(): string {
  return JSON.parse(readFileSync(join(ortPackageDir(), 'package.json'), 'utf8')).version;
}

/** The folder of the npm package's native binaries for this platform. */
export function ortBinaryDir(packageDir = ortPackageDir()): string {
  return join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
}

/** The folder the process loaded the core library from, when it has (Linux only: read from /proc/self/maps). */
export function loadedCoreDir(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const line = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => l.endsWith(`/${CORE_LIBRARY}`));
  return line ? dirname(line.slice(line.indexOf('/'))) : undefined;
}

/** The folder ORT will look in for provider libraries: the loaded core library's, else the package's. */
export function coreDirInUse(): string {
  return loadedCoreDir() ?? ortBinaryDir();
}

/**
 * Makes the process use the core library in `dir` (a CUDA setup folder). Returns undefined when it is in use
 * now, or a sentence saying why not (another core library was loaded first: the process must restart).
 */
export function preferCoreLibrary(dir: string): string | undefined {
  const lib = join(dir, CORE_LIBRARY);
  if (process.platform !== 'linux') return `a separate ONNX Runtime folder is only supported on Linux, not ${process.platform}`;
  if (!existsSync(lib)) return `${lib} is missing`;
  const loaded = loadedCoreDir();
  if (loaded === dir) return undefined;
  if (loaded) return `ONNX Runtime was already loaded from ${loaded}; restart to use ${dir}`;
  try {
    process.dlopen({ exports: {} }, lib, RTLD_NODELETE | 2 /* RTLD_NOW */);
  } catch (e) {
    // A plain shared library is not a Node module: that error is expected, a loader error is not.
    if (!/did not self-register/.test((e as Error).message)) return `cannot load ${lib}: ${(e as Error).message.split('\n')[0]}`;
  }
  return loadedCoreDir() === dir ? undefined : `${lib} did not stay loaded`;
}
