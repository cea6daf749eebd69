/**
 * What a benchmark file in test/bench/ exports so `npm run bench [name]` (run.ts) finds it:
 * `export const bench: Bench = {...}`. Benchmarks print figures and ratios measured in the same run;
 * they never assert timings.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
export interface Bench {
  /** The name given on the command line: `npm run bench <name>`. */
  name: string;
  description: string;
  /** Whether a plain `npm run bench` runs it. */
  default: boolean;
  /** args: the command-line arguments after the name. */
  run(args: string[]): Promise<void>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Peak resident set of this process so far, in MiB. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Resident memory of this process now, anonymous and file-backed (a file page mapped twice counts twice), in bytes. */
export function rssNow(): { anon: number; file: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { anon: kb('RssAnon'), file: kb('RssFile') };
}

/** xorshift32 uniform floats in [offset - scale, offset + scale): fast enough for the paper's 680M weights. */
export function fillUniform(a: Float32Array, seed: number, scale: number, offset = 0): Float32Array {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = offset + ((s >>> 0) / 2147483648 - 1) * scale;
  }
  return a;
}

/**
 * Runs a benchmark's stages as child processes of its own file (`node [--import tsx] FILE MODE DIR ...args`)
 * over a temporary folder for multi-GB weights, which is deleted afterwards, also on error or Ctrl+C.
 * Each stage in its own process keeps peak-memory figures of one stage apart from the others.
 */
export async function runStagesInChildren(benchFile: string, label: string, args: string[], stages: (child: (mode: string) => Promise<void>, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `ld-bench-${label}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  const child = (mode: string) => new Promise<void>((res, rej) => {
    // The parent's own Node options (`--import tsx` under npm run bench; none in a bundled bench).
    const p = spawn(process.execPath, [...process.execArgv, benchFile, mode, dir, ...args], { stdio: 'inherit' });
    p.on('error', rej);
    p.on('exit', (code, signal) => (code === 0 ? res() : rej(new Error(`${label} bench: ${mode} child failed (${signal ?? `exit ${code}`})`))));
  });
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await stages(child, dir);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
}
