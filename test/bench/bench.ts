/**
 * What a benchmark file in test/bench/ exports so `npm run bench [name]` (run.ts) finds it:
 * `export const bench: Bench = {...}`. Benchmarks print figures and ratios measured in the same run;
 * they never assert timings.
 */
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
