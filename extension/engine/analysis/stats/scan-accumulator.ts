/**
 * Pass 1 of the statistics ("scan"): per latent, over every token of the data, frequency, max activation
 * (scaled, a = f * s), the template statistics and the Latent Scaling sums. Every sum is exact and every other
 * quantity a max or an integer count, so scans of disjoint shards merge into exactly the single-run result.
 */
import { ExactSums } from './exact-sums';
import { LatentScalingAccumulator, LS_SUM_COUNT, type DecoderWeights } from '../../latents/latent-scaling';
import type { Sequence } from './sequences';
import { GROUP_COUNT, TEMPLATE_ACTIVE_THRESHOLD, tokenGroups } from './template-groups';

export interface ScanArrays {
  /** Tokens with a > 0, per latent. */
  activeCount: Float64Array;
  /** max a per latent (0 when it never fired). */
  maxAct: Float64Array;
  /** Latent Scaling sums (latent-scaling.ts LS_SUMS), D x 6. */
  ls: ExactSums;
  /** Template statistics per latent and group (D x GROUP_COUNT): active count, sum and max of a when active. */
  groupActive: Float64Array;
  groupSum: ExactSums;
  groupMax: Float64Array;
  /** Tokens per group over the chat sequences. */
  groupTokens: Float64Array;
  totals: { tokens: number; sequences: number; chatSequences: number };
}

export function emptyScan(D: number): ScanArrays {
  return {
    activeCount: new Float64Array(D),
    maxAct: new Float64Array(D),
    ls: new ExactSums(D * LS_SUM_COUNT),
    groupActive: new Float64Array(D * GROUP_COUNT),
    groupSum: new ExactSums(D * GROUP_COUNT),
    groupMax: new Float64Array(D * GROUP_COUNT),
    groupTokens: new Float64Array(GROUP_COUNT),
    totals: { tokens: 0, sequences: 0, chatSequences: 0 },
  };
}

/** Adds scan b into a (a is changed). */
export function mergeScan(a: ScanArrays, b: ScanArrays): void {
  for (let j = 0; j < a.activeCount.length; j++) {
    a.activeCount[j] += b.activeCount[j];
    if (b.maxAct[j] > a.maxAct[j]) a.maxAct[j] = b.maxAct[j];
  }
  a.ls.addAll(b.ls);
  a.groupSum.addAll(b.groupSum);
  for (let i = 0; i < a.groupActive.length; i++) {
    a.groupActive[i] += b.groupActive[i];
    if (b.groupMax[i] > a.groupMax[i]) a.groupMax[i] = b.groupMax[i];
  }
  for (let g = 0; g < GROUP_COUNT; g++) a.groupTokens[g] += b.groupTokens[g];
  a.totals.tokens += b.totals.tokens;
  a.totals.sequences += b.totals.sequences;
  a.totals.chatSequences += b.totals.chatSequences;
}

export class ScanAccumulator {
  private readonly ls: LatentScalingAccumulator;
  private readonly active: Int32Array;
  private readonly fActive: Float64Array;
  private readonly groups = new Int32Array(3);

  constructor(
    readonly scan: ScanArrays,
    private readonly dec: DecoderWeights,
    /** s_j of the scaled activation a = f * s. */
    private readonly scale: Float32Array,
    private readonly bosId: number,
  ) {
    this.ls = new LatentScalingAccumulator(dec, scan.ls);
    this.active = new Int32Array(dec.dictSize);
    this.fActive = new Float64Array(dec.dictSize);
  }

  /** One sequence: raw codes f [T x D] (after the BatchTopK threshold) and both residuals [T x d]. */
  addSequence(seq: Sequence, f: Float32Array, xBase: Float32Array, xChat: Float32Array): void {
    const { dictSize: D, dModel: d } = this.dec;
    const T = seq.ids.length;
    if (f.length !== T * D || xBase.length !== T * d || xChat.length !== T * d) {
      throw new Error(`ScanAccumulator: got f ${f.length}, x ${xBase.length}/${xChat.length} values for ${T} tokens`);
    }
    const s = this.scan;
    const scale = this.scale;
    const isBos = seq.ids[0] === this.bosId;
    for (let t = 0; t < T; t++) {
      let n = 0;
      const row = t * D;
      for (let j = 0; j < D; j++) {
        const v = f[row + j];
        if (v > 0) {
          this.active[n] = j;
          this.fActive[n++] = v;
        }
      }
      const nGroups = seq.chat ? tokenGroups(t, isBos, seq.ctrl[t], seq.assistant[t], this.groups) : 0;
      for (let g = 0; g < nGroups; g++) s.groupTokens[this.groups[g]]++;
      for (let k = 0; k < n; k++) {
        const j = this.active[k];
        const a = Math.fround(this.fActive[k] * scale[j]);
        s.activeCount[j]++;
        if (a > s.maxAct[j]) s.maxAct[j] = a;
        if (nGroups && a > TEMPLATE_ACTIVE_THRESHOLD) {
          for (let g = 0; g < nGroups; g++) {
            const at = j * GROUP_COUNT + this.groups[g];
            s.groupActive[at]++;
            s.groupSum.add(at, a);
            if (a > s.groupMax[at]) s.groupMax[at] = a;
          }
        }
      }
      this.ls.addToken(this.active, this.fActive, n, xBase, xChat, t * d);
    }
    s.totals.tokens += T;
    s.totals.sequences++;
    if (seq.chat) s.totals.chatSequences++;
  }
}
