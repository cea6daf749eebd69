/**
 * The on-disk state of a statistics run in <out>/state/: manifest.json (written last, atomically) naming the
 * state files of each finished or checkpointed phase. State files get a new generation number on every
 * checkpoint and the manifest switches to them in one rename, so a run killed at any moment resumes from a
 * consistent checkpoint: nothing is counted twice or lost.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatentDiffError } from '../../errors';
import { jsonSyntaxProblem } from '../../input-files';

export const STATE_FORMAT = 'latent-diff-stats';
export const STATE_VERSION = 1;

/** Everything that must be equal for two runs' states to be merged or resumed. */
export interface RunConfig {
  crosscoderIdentity: string;
  dictSize: number;
  /** Data files by name and size (paths differ between machines). */
  data: { name: string; bytes: number }[];
  tokens: number | null;
  contextWindow: number;
  seed: number;
  examplesPerBin: number;
  shardCount: number;
  textColumn: string;
  errorLatents: string;
  thresholds: { completeShrinkage: number; latentDecoupling: number };
}

export interface PhaseState {
  status: 'running' | 'done';
  /** Shard indices this state covers (one for a shard run, several after a merge). */
  shards: number[];
  /** State file name in the state folder. */
  file: string;
  /** Records read (all shards' records count: the global record index to resume from). */
  recordsDone: number;
  /** Tokens of all records before recordsDone (for the --tokens budget). */
  tokensBefore: number;
  /** For the examples phase: digest of the max activations the bins were made from. */
  maxDigest?: string;
}

export interface Manifest {
  format: typeof STATE_FORMAT;
  version: number;
  config: RunConfig;
  configDigest: string;
  /** State file with the static per-latent metrics and decoder geometry (identical in every shard). */
  staticFile: string;
  scan?: PhaseState;
  examples?: PhaseState;
  skippedRecords: number;
}

export function configDigest(c: RunConfig): string {
  return createHash('sha256').update(JSON.stringify(c)).digest('hex').slice(0, 16);
}

export function maxDigest(maxAct: Float64Array): string {
  return createHash('sha256').update(new Uint8Array(maxAct.buffer, maxAct.byteOffset, maxAct.byteLength)).digest('hex').slice(0, 16);
}

export const stateDir = (out: string) => join(out, 'state');
export const manifestPath = (out: string) => join(stateDir(out), 'manifest.json');

export function readManifest(out: string): Manifest | undefined {
  const path = manifestPath(out);
  if (!existsSync(path)) return undefined;
  let m: Manifest;
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
    m = JSON.parse(text);
  } catch (e) {
    throw new LatentDiffError(path, `not valid JSON (${jsonSyntaxProblem(e, text)})`, 'bad-state');
  }
  if (m.format !== STATE_FORMAT) throw new LatentDiffError(path, 'not the manifest of a Latent Diff statistics run', 'bad-state');
  if (m.version !== STATE_VERSION) throw new LatentDiffError(path, `state version ${m.version} is not supported (this version reads ${STATE_VERSION})`, 'bad-state');
  return m;
}

/** Switches the manifest atomically, then deletes state files it no longer names. */
export function writeManifest(out: string, m: Manifest, previous?: Manifest): void {
  mkdirSync(stateDir(out), { recursive: true });
  const path = manifestPath(out);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n');
  renameSync(tmp, path);
  const keep = new Set([m.staticFile, m.scan?.file, m.examples?.file]);
  for (const f of [previous?.staticFile, previous?.scan?.file, previous?.examples?.file]) {
    if (f && !keep.has(f)) rmSync(join(stateDir(out), f), { force: true });
  }
}

let generation = 0;
/** A fresh state file name for a phase. */
export function nextStateFile(phase: string): string {
  return `${phase}-${Date.now().toString(36)}-${process.pid}-${generation++}.state`;
}
