import * as ort from 'onnxruntime-node';
import type { ModelSource } from '../bundle/bundle';
import { LatentDiffError } from '../errors';
import { DT } from '../graphs/onnx-builder';
import type { SplitModel } from './split-model';

const INT32 = DT.INT32;

/** Turns token ids into the residual stream after block `layer`: [T * dModel] float32. */
export interface ResidualModel {
  readonly name: string;
  residual(ids: number[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** A bundle model given as an ONNX file that names its residual-stream output (SPEC 2). */
export class OnnxResidualModel implements ResidualModel {
  readonly name: string;

  constructor(
    private readonly source: Extract<ModelSource, { kind: 'onnx' }>,
    private readonly session: ort.InferenceSession,
    private readonly dModel: number,
  ) {
    this.name = source.name;
  }

  /** An integer input of the graph, as int64 or int32 per its declared type (bundle.ts accepts both). */
  private intInput(name: string, values: ArrayLike<number>): ort.Tensor {
    const int32 = this.source.signature.inputs.find((i) => i.name === name)?.elemType === INT32;
    return int32
      ? new ort.Tensor('int32', Int32Array.from(values), [1, values.length])
      : new ort.Tensor('int64', BigInt64Array.from(Array.from(values), (v) => BigInt(v)), [1, values.length]);
  }

  async residual(ids: number[]): Promise<Float32Array> {
    const T = ids.length;
    const feeds: Record<string, ort.Tensor> = { [this.source.inputIds]: this.intInput(this.source.inputIds, ids) };
    if (this.source.attentionMask) feeds[this.source.attentionMask] = this.intInput(this.source.attentionMask, new Array(T).fill(1));
    if (this.source.positionIds) feeds[this.source.positionIds] = this.intInput(this.source.positionIds, Array.from({ length: T }, (_, i) => i));
    let out: ort.Tensor;
    try {
      out = (await this.session.run(feeds, [this.source.output]))[this.source.output];
    } catch (e) {
      const reason = (e as Error).message.split('\n')[0];
      throw new LatentDiffError(this.source.path, `ONNX Runtime failed to run this model (${reason}); does the bundle's tokenizer belong to it?`, 'model-run');
    }
    if (out.dims.length !== 3 || out.dims[1] !== T || out.dims[2] !== this.dModel) {
      throw new LatentDiffError(this.source.path, `output "${this.source.output}" has shape [${out.dims.join(', ')}], expected [1, ${T}, ${this.dModel}]`, 'bad-shape');
    }
    if (out.type !== 'float32') throw new LatentDiffError(this.source.path, `output "${this.source.output}" is ${out.type}; the residual stream must be float32 (add a Cast to the graph)`, 'bad-dtype');
    return out.data as Float32Array;
  }

  dispose(): Promise<void> {
    return this.session.release();
  }
}

/** Tokens [start, end) of a document that one model run sees; every window after the first runs behind a fresh BOS. */
export interface ContextWindow {
  start: number;
  end: number;
}

/**
 * Long texts are analysed in windows of at most `contextWindow` tokens. The first window starts with the
 * document's own BOS; every later window gets a fresh BOS in front (its residual is dropped), so each
 * token sees at most contextWindow - 1 tokens of left context and the model never runs past its length.
 * Windows do not overlap: a token's context restarts at each window boundary.
 */
export function contextWindows(T: number, contextWindow: number): ContextWindow[] {
  if (T <= contextWindow) return [{ start: 0, end: T }];
  const windows = [{ start: 0, end: contextWindow }];
  for (let start = contextWindow; start < T; start += contextWindow - 1) windows.push({ start, end: Math.min(T, start + contextWindow - 1) });
  return windows;
}

/** The residual stream of a document of any length, window by window (contextWindows). */
export async function windowedResidual(model: SplitModel, ids: number[], bosId: number, contextWindow: number, dModel: number, between: () => Promise<void>): Promise<Float32Array> {
  const out = new Float32Array(ids.length * dModel);
  for (const [k, w] of contextWindows(ids.length, contextWindow).entries()) {
    if (k > 0) await between();
    const { resid } = await model.firstHalf(k === 0 ? ids.slice(w.start, w.end) : [bosId, ...ids.slice(w.start, w.end)]);
    out.set(k === 0 ? resid : resid.subarray(dModel), w.start * dModel);
  }
  return out;
}
