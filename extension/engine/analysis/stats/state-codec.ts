/** Scan and examples states <-> state files (state-file.ts). */
import { ExactSums } from './exact-sums';
import { GROUP_COUNT } from './template-groups';
import { LS_SUM_COUNT } from '../../latents/latent-scaling';
import type { ScanArrays } from './scan-accumulator';
import type { Candidate, ExamplesState } from './examples-sampler';
import { readStateFile, writeStateFile } from './state-file';
import { LatentDiffError } from '../../errors';

function sumsArrays(prefix: string, s: ExactSums) {
  return { [`${prefix}.partials`]: s.partials, [`${prefix}.lengths`]: s.lengths, [`${prefix}.nonFinite`]: s.nonFinite };
}

export function writeScanState(path: string, meta: Record<string, unknown>, s: ScanArrays): void {
  writeStateFile(path, { ...meta, totals: s.totals, inexact: { ls: s.ls.inexactAdds, groups: s.groupSum.inexactAdds } }, {
    activeCount: s.activeCount, maxAct: s.maxAct, groupActive: s.groupActive, groupMax: s.groupMax, groupTokens: s.groupTokens,
    ...sumsArrays('ls', s.ls), ...sumsArrays('groupSum', s.groupSum),
  });
}

export function readScanState(path: string, D: number): { meta: Record<string, unknown>; scan: ScanArrays } {
  const f = readStateFile(path);
  const meta = f.meta as Record<string, unknown>;
  const sums = (prefix: string, size: number, inexactAdds: number) => {
    const lengths = f.get(`${prefix}.lengths`, 'u8', size);
    const partials = f.get(`${prefix}.partials`, 'f64');
    if (partials.length % size !== 0) throw new LatentDiffError(path, `not a valid Latent Diff state file: array "${prefix}.partials" does not hold whole sums`, 'bad-state');
    return new ExactSums(size, partials.length / size, { partials, lengths, nonFinite: f.get(`${prefix}.nonFinite`, 'f64', size), inexactAdds });
  };
  const activeCount = f.get('activeCount', 'f64');
  if (activeCount.length !== D) throw new LatentDiffError(path, `holds statistics for ${activeCount.length} latents, the crosscoder has ${D}`, 'bad-state');
  return {
    meta,
    scan: {
      activeCount,
      maxAct: f.get('maxAct', 'f64', D),
      ls: sums('ls', D * LS_SUM_COUNT, f.num('inexact', 'ls')),
      groupActive: f.get('groupActive', 'f64', D * GROUP_COUNT),
      groupSum: sums('groupSum', D * GROUP_COUNT, f.num('inexact', 'groups')),
      groupMax: f.get('groupMax', 'f64', D * GROUP_COUNT),
      groupTokens: f.get('groupTokens', 'f64', GROUP_COUNT),
      totals: { tokens: f.num('totals', 'tokens'), sequences: f.num('totals', 'sequences'), chatSequences: f.num('totals', 'chatSequences') },
    },
  };
}

const keyWords = (key: string) => [parseInt(key.slice(0, 8), 16), parseInt(key.slice(8, 16), 16)];
const wordsKey = (a: number, b: number) => a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');

export function writeExamplesState(path: string, meta: Record<string, unknown>, st: ExamplesState): void {
  const cands: [number, Candidate][] = [];
  for (const [slot, list] of st.slots) for (const c of list) cands.push([slot, c]);
  const n = cands.length;
  const slot = new Int32Array(n), priority = new Float64Array(n), v = new Float64Array(n), keys = new Uint32Array(2 * n);
  const detailOffsets = new Float64Array(n + 1);
  let total = 0;
  cands.forEach(([s, c], i) => {
    slot[i] = s;
    priority[i] = c.priority;
    v[i] = c.v;
    [keys[2 * i], keys[2 * i + 1]] = keyWords(c.key);
    detailOffsets[i] = total;
    total += c.positions.length;
  });
  detailOffsets[n] = total;
  const positions = new Int32Array(total), values = new Float32Array(total);
  cands.forEach(([, c], i) => {
    positions.set(c.positions, detailOffsets[i]);
    values.set(c.values, detailOffsets[i]);
  });
  const seqs = [...st.sequences];
  const seqKeys = new Uint32Array(2 * seqs.length), seqIndex = new Float64Array(seqs.length), tokOffsets = new Float64Array(seqs.length + 1);
  let tokTotal = 0;
  seqs.forEach(([key, s], i) => {
    [seqKeys[2 * i], seqKeys[2 * i + 1]] = keyWords(key);
    seqIndex[i] = s.index;
    tokOffsets[i] = tokTotal;
    tokTotal += s.ids.length;
  });
  tokOffsets[seqs.length] = tokTotal;
  const tokens = new Int32Array(tokTotal);
  seqs.forEach(([, s], i) => tokens.set(s.ids, tokOffsets[i]));
  writeStateFile(path, { ...meta, overflow: st.overflow }, { slot, priority, v, keys, detailOffsets, positions, values, seqKeys, seqIndex, tokOffsets, tokens });
}

export function readExamplesState(path: string): { meta: Record<string, unknown>; examples: ExamplesState } {
  const f = readStateFile(path);
  const meta = f.meta as Record<string, unknown>;
  const slot = f.get('slot', 'i32'), priority = f.get('priority', 'f64'), v = f.get('v', 'f64'), keys = f.get('keys', 'u32');
  const detailOffsets = f.get('detailOffsets', 'f64'), positions = f.get('positions', 'i32'), values = f.get('values', 'f32');
  const seqKeys = f.get('seqKeys', 'u32'), seqIndex = f.get('seqIndex', 'f64'), tokOffsets = f.get('tokOffsets', 'f64'), tokens = f.get('tokens', 'i32');
  const st: ExamplesState = { slots: new Map(), sequences: new Map(), overflow: f.num('overflow') };
  for (let i = 0; i < seqIndex.length; i++) {
    st.sequences.set(wordsKey(seqKeys[2 * i], seqKeys[2 * i + 1]), { index: seqIndex[i], ids: tokens.slice(tokOffsets[i], tokOffsets[i + 1]), refs: 0 });
  }
  for (let i = 0; i < slot.length; i++) {
    const key = wordsKey(keys[2 * i], keys[2 * i + 1]);
    const seq = st.sequences.get(key);
    if (!seq) throw new LatentDiffError(path, `example ${i} refers to a sequence that is not stored`, 'bad-state');
    seq.refs++;
    let list = st.slots.get(slot[i]);
    if (!list) st.slots.set(slot[i], (list = []));
    list.push({ priority: priority[i], key, v: v[i], positions: positions.slice(detailOffsets[i], detailOffsets[i + 1]), values: values.slice(detailOffsets[i], detailOffsets[i + 1]) });
  }
  return { meta, examples: st };
}
