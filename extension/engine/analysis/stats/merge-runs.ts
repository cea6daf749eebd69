/**
 * `latent-diff merge`: combines the states of shard runs (or of earlier merges) into one folder and writes
 * feature_df.csv / examples.db once every shard is in. Scans add exactly (exact sums, counts, maxima);
 * examples merge as bottom-k samples (examples-sampler.ts), which needs every part binned with the same max.
 * No bundle is needed: the static per-latent facts travel in each part's state.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatentDiffError } from '../../errors';
import { checkOutputFolder } from '../../output-paths';
import { lockOutputFolder } from './run-lock';
import { mergeExamples, emptyExamples } from './examples-sampler';
import {
  manifestPath, nextStateFile, readManifest, stateDir, writeManifest, type Manifest, type PhaseState,
} from './run-state';
import { emptyScan, mergeScan } from './scan-accumulator';
import { readExamplesState, readScanState, writeExamplesState, writeScanState } from './state-codec';
import { readStaticState, writeStaticState } from './static-state';
import { finishRun, type StatsJobResult } from './stats-job';

function coverage(parts: { dir: string; phase: PhaseState }[], n: number, what: string): number[] {
  const seen = new Map<number, string>();
  for (const { dir, phase } of parts) {
    if (phase.status !== 'done') throw new LatentDiffError(manifestPath(dir), `its ${what} is not finished: resume that run first (--resume)`, 'incomplete');
    for (const s of phase.shards) {
      if (seen.has(s)) throw new LatentDiffError(dir, `holds the ${what} of shard ${s}/${n}, and so does ${seen.get(s)}: each shard may be merged once`, 'duplicate-shard');
      seen.set(s, dir);
    }
  }
  return [...seen.keys()].sort((a, b) => a - b);
}

export function mergeStatsRuns(parts: readonly string[], out: string): StatsJobResult {
  if (parts.length === 0) throw new LatentDiffError(undefined, 'nothing to merge: give the folders of the shard runs', 'invalid-setting');
  checkOutputFolder(out);
  const release = lockOutputFolder(out);
  try {
    return mergeLocked(parts, out);
  } finally {
    release();
  }
}

function mergeLocked(parts: readonly string[], out: string): StatsJobResult {
  if (readManifest(out)) throw new LatentDiffError(out, 'already holds a statistics run: merge into an empty folder', 'exists');
  const manifests = parts.map((dir) => {
    const m = readManifest(dir);
    if (!m) throw new LatentDiffError(dir, 'is not a statistics folder (no state/manifest.json)', 'not-found');
    return { dir, m };
  });
  const first = manifests[0];
  for (const { dir, m } of manifests) {
    if (m.configDigest !== first.m.configDigest) {
      throw new LatentDiffError(manifestPath(dir), `was made with other settings than ${first.dir} (data, tokens, seed, shard count or crosscoder differ): such runs do not merge`, 'mismatch');
    }
  }
  const staticBytes = readFileSync(join(stateDir(first.dir), first.m.staticFile));
  for (const { dir, m } of manifests.slice(1)) {
    if (!readFileSync(join(stateDir(dir), m.staticFile)).equals(staticBytes)) {
      throw new LatentDiffError(dir, `its per-latent metrics differ from ${first.dir}'s (another crosscoder file or error-latent set)`, 'mismatch');
    }
  }
  const n = first.m.config.shardCount;
  const D = first.m.config.dictSize;
  const stat = readStaticState(join(stateDir(first.dir), first.m.staticFile));
  const merged: Manifest = { ...first.m, staticFile: nextStateFile('static'), scan: undefined, examples: undefined, skippedRecords: 0 };
  mkdirSync(stateDir(out), { recursive: true });
  writeStaticState(join(stateDir(out), merged.staticFile), stat);

  const scans = manifests.filter((p) => p.m.scan).map((p) => ({ dir: p.dir, phase: p.m.scan! }));
  if (scans.length) {
    const shards = coverage(scans, n, 'scan');
    const scan = emptyScan(D);
    for (const { dir, phase } of scans) mergeScan(scan, readScanState(join(stateDir(dir), phase.file), D).scan);
    const file = nextStateFile('scan');
    writeScanState(join(stateDir(out), file), {}, scan);
    merged.scan = { status: 'done', shards, file, recordsDone: 0, tokensBefore: 0 };
    merged.skippedRecords = Math.max(...manifests.map((p) => p.m.skippedRecords));
  }
  const exampleParts = manifests.filter((p) => p.m.examples).map((p) => ({ dir: p.dir, phase: p.m.examples! }));
  if (exampleParts.length) {
    const shards = coverage(exampleParts, n, 'examples pass');
    const digest = exampleParts[0].phase.maxDigest;
    for (const { dir, phase } of exampleParts) {
      if (phase.maxDigest !== digest) {
        throw new LatentDiffError(dir, 'its examples were binned with other max activations than the other parts: run every shard\'s examples pass with the same --max-from folder', 'mismatch');
      }
    }
    const examples = emptyExamples();
    for (const { dir, phase } of exampleParts) mergeExamples(examples, readExamplesState(join(stateDir(dir), phase.file)).examples, first.m.config.examplesPerBin);
    const file = nextStateFile('examples');
    writeExamplesState(join(stateDir(out), file), {}, examples);
    merged.examples = { status: 'done', shards, file, recordsDone: 0, tokensBefore: 0, maxDigest: digest };
  }
  writeManifest(out, merged);
  return finishRun(out, merged, stat, first.m.config.thresholds);
}
