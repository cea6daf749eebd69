/**
 * What WebGPU adapter ONNX Runtime would get. onnxruntime-node 1.30 neither reports the adapter Dawn picks
 * (its verbose log names only instance and device handles) nor lets the caller choose one, so this asks in a
 * short child process, where environment variables can steer the Vulkan loader without touching this one:
 * - does a WebGPU context come up at all (a session over a non-model fails on the model, after the context;
 *   "No supported adapters" otherwise);
 * - with the software Vulkan drivers (Mesa's lavapipe, SwiftShader) disabled through the loader's
 *   VK_LOADER_DRIVERS_DISABLE, is there still an adapter: that is a hardware one;
 * - on Linux with Mesa's device-select layer, MESA_VK_DEVICE_SELECT=list names every Vulkan device
 *   (vendor:device id, name, type) and exits: that gives the report its adapter names.
 * Dawn prefers a discrete GPU, then an integrated one, then a CPU (software) adapter, so the adapter
 * reported is the first in that order.
 */
import { spawn } from 'node:child_process';

export interface WebGpuAdapter {
  vendorId: string;
  deviceId: string;
  name: string;
  /** As Mesa prints it: "discrete GPU", "integrated GPU", "CPU", ... */
  type: string;
  backend: string;
}

export interface WebGpuProbe {
  /** A WebGPU context came up. */
  works: boolean;
  /** Why not, as ORT said it. */
  problem?: string;
  /** Every adapter seen (empty where they cannot be listed). */
  adapters: WebGpuAdapter[];
}

const SOFTWARE_VULKAN = '*lvp*,*lavapipe*,*swiftshader*';
const BACKEND = process.platform === 'win32' ? 'D3D12' : process.platform === 'darwin' ? 'Metal' : 'Vulkan';
const PROBE_SCRIPT = `
const ort = require(process.argv[1]);
ort.InferenceSession.create(new Uint8Array([8, 8]), { executionProviders: ['webgpu'], logSeverityLevel: 4 })
  .then(() => console.log('WEBGPU-OK'), (e) => console.log(/No graph was found/.test(e.message) ? 'WEBGPU-OK' : 'WEBGPU-FAILED ' + e.message.split('\\n')[0]));
`;

function runProbe(env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    // In VS Code the process is Electron: ELECTRON_RUN_AS_NODE makes it a plain Node.
    const child = spawn(process.execPath, ['-e', PROBE_SCRIPT, require.resolve('onnxruntime-node')], {
      env: { ...process.env, ...env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => resolve(`WEBGPU-FAILED ${e.message}`));
    child.on('close', () => resolve(out));
  });
}

/** Parses the device-select layer's list: `  GPU 0: 10de:2335 "NVIDIA H200" discrete GPU`. */
export function parseVulkanDeviceList(text: string): WebGpuAdapter[] {
  const adapters: WebGpuAdapter[] = [];
  for (const m of text.matchAll(/^\s*GPU \d+: ([0-9a-f]+):([0-9a-f]+) "([^"]*)" ?(.*)$/gim)) {
    adapters.push({ vendorId: `0x${m[1]}`, deviceId: `0x${m[2]}`, name: m[3], type: m[4].replace(/\s*default\s*$/i, '').trim() || 'unknown', backend: 'Vulkan' });
  }
  return adapters;
}

export function isSoftwareAdapter(a: WebGpuAdapter): boolean {
  return /^cpu$/i.test(a.type) || /llvmpipe|lavapipe|swiftshader/i.test(a.name);
}

const RANK = (a: WebGpuAdapter) => (/discrete/i.test(a.type) ? 0 : /integrated/i.test(a.type) ? 1 : isSoftwareAdapter(a) ? 3 : 2);

/** The adapter Dawn takes among those listed (high-performance preference). */
export function preferredAdapter(adapters: WebGpuAdapter[]): WebGpuAdapter | undefined {
  return [...adapters].sort((a, b) => RANK(a) - RANK(b))[0];
}

export function describeAdapter(a: WebGpuAdapter | undefined): string {
  if (!a) return `adapter not named (onnxruntime-node does not report it; backend ${BACKEND})`;
  return `${a.name} (vendor ${a.vendorId}, device ${a.deviceId}, ${a.type}, ${a.backend})`;
}

function once<K, V>(make: (k: K) => Promise<V>): (k: K) => Promise<V> {
  const cache = new Map<K, Promise<V>>();
  return (k) => {
    let p = cache.get(k);
    if (!p) cache.set(k, (p = make(k)));
    return p;
  };
}

/** Whether a WebGPU context comes up, with the software Vulkan drivers disabled or not. */
const contextProbe = once((hardwareOnly: boolean) =>
  runProbe(hardwareOnly && process.platform === 'linux'
    ? { VK_LOADER_DRIVERS_DISABLE: [process.env.VK_LOADER_DRIVERS_DISABLE, SOFTWARE_VULKAN].filter(Boolean).join(',') }
    : {}),
);

/** Every Vulkan device, named (Linux with Mesa's device-select layer; elsewhere none). */
const adapterList = once(async (_: 'all') =>
  process.platform === 'linux' ? parseVulkanDeviceList(await runProbe({ MESA_VK_DEVICE_SELECT: 'list' })) : [],
);

export function listWebGpuAdapters(): Promise<WebGpuAdapter[]> {
  return adapterList('all');
}

/** Probes once per process: `hardwareOnly` leaves out software adapters, as `auto` must. */
export async function probeWebGpu(hardwareOnly: boolean): Promise<WebGpuProbe> {
  const [run, listed] = await Promise.all([contextProbe(hardwareOnly), listWebGpuAdapters()]);
  const adapters = listed.filter((a) => !hardwareOnly || !isSoftwareAdapter(a));
  // Where the devices are listed, an adapter that came up with only software ones listed is not hardware.
  if (/WEBGPU-OK/.test(run) && !(hardwareOnly && listed.length > 0 && adapters.length === 0)) return { works: true, adapters };
  const problem = /WEBGPU-FAILED (.*)/.exec(run)?.[1] ?? (run.trim().split('\n').pop() || 'the probe printed nothing');
  return { works: false, problem, adapters };
}
