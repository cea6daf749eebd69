import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { LogitsGraphSource } from '../bundle/bundle';
import { LatentDiffError } from '../errors';
import { LAST_N, logitsModelWithHead } from '../graphs/logits-model-head';
import { NEXT_TOKEN } from '../graphs/next-token-head';
import { placeGraph } from '../graphs/place-graph';
import type { SessionSource } from './providers';
import type { NextTokenRequest, NextTokenResult } from './split-model';

type Variant = 'plain' | 'kl';

/** A graph grafted onto a second-half graph, placed so that ORT finds that graph's external weights. */
export function graftedSessionSource(bytes: Uint8Array, graph: LogitsGraphSource, name: string, cacheDir: string): SessionSource {
  const weights = graph.externalDataFiles.map((f) => resolve(dirname(graph.path), f));
  if (!weights.length) return { bytes };
  const placed = placeGraph(bytes, weights, name, cacheDir);
  return placed.path ?? { bytes: placed.bytes, ...(placed.externalData ? { externalData: placed.externalData } : {}) };
}

/**
 * Runs a second-half graph with the next-token head appended (graphs/logits-model-head.ts). Two sessions at
 * most, made on first use: one without and one with the KL reference input (ORT needs every declared input).
 */
export class LogitsHeadSession {
  private readonly sessions = new Map<Variant, Promise<ort.InferenceSession>>();

  constructor(
    readonly source: LogitsGraphSource,
    private readonly cacheDir: string,
    private readonly createSession: (source: SessionSource) => Promise<ort.InferenceSession>,
  ) {}

  private session(variant: Variant): Promise<ort.InferenceSession> {
    let s = this.sessions.get(variant);
    if (!s) {
      s = this.open(variant);
      this.sessions.set(variant, s);
      s.catch(() => this.sessions.delete(variant));
    }
    return s;
  }

  private async open(variant: Variant): Promise<ort.InferenceSession> {
    const { path } = this.source;
    try {
      const bytes = logitsModelWithHead(readFileSync(path), this.source.output, { logProbs: true, kl: variant === 'kl' });
      return await this.createSession(graftedSessionSource(bytes, this.source, `second-half-${variant}`, this.cacheDir));
    } catch (e) {
      throw new LatentDiffError(path, `ONNX Runtime cannot load this second-half graph: ${(e as Error).message.split('\n')[0]}`, 'model-load');
    }
  }

  /** Next-token outputs for the last n of the T positions of `resid` [T * dModel]. */
  async run(resid: Float32Array, T: number, n: number, request: NextTokenRequest): Promise<NextTokenResult> {
    const V = this.source.vocabSize;
    const k = Math.min(V, Math.max(0, request.topK ?? 0));
    const session = await this.session(request.klReference ? 'kl' : 'plain');
    const feeds: Record<string, ort.Tensor> = {
      [this.source.input]: new ort.Tensor('float32', resid, [1, T, resid.length / T]),
      [LAST_N]: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), [1]),
      [NEXT_TOKEN.topK]: new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.max(1, k))), [1]),
    };
    if (request.klReference) {
      if (request.klReference.length !== n * V) throw new LatentDiffError(undefined, `the KL reference has ${request.klReference.length} values, expected ${n} positions x ${V}`, 'invalid-input');
      feeds[NEXT_TOKEN.klReference] = new ort.Tensor('float32', request.klReference, [1, n, V]);
    }
    const fetches: string[] = [NEXT_TOKEN.argmax, NEXT_TOKEN.topIds, NEXT_TOKEN.topLogProbs];
    if (request.logProbs) fetches.push(NEXT_TOKEN.logProbs);
    if (request.klReference) fetches.push(NEXT_TOKEN.kl);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await session.run(feeds, fetches);
    } catch (e) {
      throw new LatentDiffError(this.source.path, `ONNX Runtime failed to run this second-half graph (${(e as Error).message.split('\n')[0]})`, 'model-run');
    }
    const top = out[NEXT_TOKEN.topLogProbs];
    if (top.dims[1] !== n) throw new LatentDiffError(this.source.path, `output "${this.source.output}" does not have one row per position (got ${top.dims[1]} rows for ${n} positions)`, 'bad-shape');
    const K = Math.max(1, k);
    const cut = <A extends Float32Array | Int32Array>(a: A): A => {
      if (k === K) return a;
      return new (a.constructor as new (n: number) => A)(0);
    };
    return {
      argmax: out[NEXT_TOKEN.argmax].data as Int32Array,
      topIds: cut(out[NEXT_TOKEN.topIds].data as Int32Array),
      topLogProbs: cut(out[NEXT_TOKEN.topLogProbs].data as Float32Array),
      ...(request.logProbs ? { logProbs: out[NEXT_TOKEN.logProbs].data as Float32Array } : {}),
      ...(request.klReference ? { kl: out[NEXT_TOKEN.kl].data as Float32Array } : {}),
    };
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s.catch(() => undefined))?.release();
    this.sessions.clear();
  }
}
