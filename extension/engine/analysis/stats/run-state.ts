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
import type { VerdictThresholds } from '../../latents/verdict';
import { checkRegularFile, jsonSyntaxProblem } from '../../input-files';

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
  thresholds: VerdictThresholds;
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
  /** Tokens of this state's own shard so far, seconds spent on them, and the fraction of the pass done (for status and ETA). */
  shardTokens?: number;
  seconds?: number;
  fraction?: number;
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
  checkRegularFile(path, 'manifest');
  let m: unknown;
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
    m = JSON.parse(text);
  } catch (e) {
    throw new LatentDiffError(path, `not valid JSON (${jsonSyntaxProblem(e, text)}): the run's state is damaged; start it again in a new folder`, 'bad-state');
  }
  return checkManifest(m, path);
}

/** A manifest read from disk has every field a run relies on, with the right type, or is refused. */
function checkManifest(m: unknown, path: string): Manifest {
  const bad = (problem: string): never => {
    throw new LatentDiffError(path, `${problem}: the run's state is damaged; start it again in a new folder`, 'bad-state');
  };
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const isName = (v: unknown) => typeof v === 'string' && /^[\w.-]+$/.test(v);
  if (!isObject(m) || m.format !== STATE_FORMAT) throw new LatentDiffError(path, 'not the manifest of a Latent Diff statistics run', 'bad-state');
  if (m.version !== STATE_VERSION) throw new LatentDiffError(path, `state version ${JSON.stringify(m.version)} is not supported (this version reads ${STATE_VERSION})`, 'bad-state');
  const c = m.config;
  if (!isObject(c)) return bad('"config" is missing');
  const configOk =
    typeof c.crosscoderIdentity === 'string' && isCount(c.dictSize) && (c.dictSize as number) > 0 && Array.isArray(c.data) &&
    c.data.every((d) => isObject(d) && typeof d.name === 'string' && isCount(d.bytes)) && (c.tokens === null || isCount(c.tokens)) &&
    isCount(c.contextWindow) && Number.isSafeInteger(c.seed) && isCount(c.examplesPerBin) && isCount(c.shardCount) && (c.shardCount as number) > 0 &&
    typeof c.textColumn === 'string' && typeof c.errorLatents === 'string' && isObject(c.thresholds) &&
    typeof c.thresholds.completeShrinkage === 'number' && typeof c.thresholds.latentDecoupling === 'number';
  if (!configOk) bad('"config" is incomplete or has fields of the wrong type');
  if (m.configDigest !== configDigest(c as unknown as RunConfig)) bad('"configDigest" does not match "config" (the file was edited)');
  if (!isName(m.staticFile)) bad('"staticFile" is missing');
  if (!isCount(m.skippedRecords)) bad('"skippedRecords" is not a count');
  for (const phase of ['scan', 'examples'] as const) {
    const p = m[phase];
    if (p === undefined) continue;
    const ok =
      isObject(p) && (p.status === 'running' || p.status === 'done') && Array.isArray(p.shards) &&
      p.shards.every((s) => isCount(s) && s < (c.shardCount as number)) && (isName(p.file) || (p.file === '' && p.status === 'running')) &&
      isCount(p.recordsDone) && isCount(p.tokensBefore) && (p.maxDigest === undefined || typeof p.maxDigest === 'string');
    if (!ok) bad(`"${phase}" is incomplete or has fields of the wrong type`);
  }
  return m as unknown as Manifest;
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
