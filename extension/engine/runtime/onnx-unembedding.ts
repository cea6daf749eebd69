import { readFileSync } from 'node:fs';
import type * as ort from 'onnxruntime-node';
import type { UnembeddingSource } from '../bundle/bundle';
import { LatentDiffError } from '../errors';
import { runUnembedTopK, unembedTopKOverGraphValue, unembedTopKOverTensor, type TokenEffects } from '../graphs/unembed-top-k';
import { graftedSessionSource } from './logits-head-session';
import type { SessionSource } from './providers';

/**
 * An ONNX-file model's unembedding as bundle.json names it (a value of its second-half graph, or a
 * safetensors tensor), for direct-path logit effects: the top/bottom-k graph (graphs/unembed-top-k.ts) is
 * built over it and opened on first use.
 */
export class OnnxUnembedding {
  private session: Promise<ort.InferenceSession> | undefined;

  constructor(
    readonly source: UnembeddingSource,
    private readonly dModel: number,
    private readonly cacheDir: string,
    private readonly createSession: (source: SessionSource) => Promise<ort.InferenceSession>,
  ) {}

  get vocabSize(): number {
    return this.source.kind === 'safetensors' ? this.source.tensor.shape[0] : this.source.graph.vocabSize;
  }

  /** The file the unembedding is read from. */
  private get file(): string {
    return this.source.kind === 'safetensors' ? this.source.tensor.file : this.source.graph.path;
  }

  private async open(): Promise<ort.InferenceSession> {
    const s = this.source;
    try {
      let source: SessionSource;
      if (s.kind === 'safetensors') {
        const placed = unembedTopKOverTensor(s.tensor, 'unembed', this.cacheDir);
        source = placed.path ?? { bytes: placed.bytes, externalData: placed.externalData };
      } else {
        source = graftedSessionSource(unembedTopKOverGraphValue(readFileSync(s.graph.path), s.value, this.dModel), s.graph, 'unembed', this.cacheDir);
      }
      return await this.createSession(source);
    } catch (e) {
      throw new LatentDiffError(this.file, `cannot build the logit-effects graph over the unembedding that "${s.field}" in bundle.json names: ${(e as Error).message.split('\n')[0]}`, 'model-load');
    }
  }

  async topK(vectors: Float32Array, k: number): Promise<TokenEffects> {
    if (!this.session) {
      this.session = this.open();
      this.session.catch(() => (this.session = undefined));
    }
    const session = await this.session;
    try {
      return await runUnembedTopK(session, vectors, this.dModel, Math.min(k, this.vocabSize));
    } catch (e) {
      throw new LatentDiffError(this.file, `the unembedding that "${this.source.field}" in bundle.json names is not a [vocab, ${this.dModel}] matrix (${(e as Error).message.split('\n')[0]})`, 'bad-shape');
    }
  }

  async dispose(): Promise<void> {
    await (await this.session?.catch(() => undefined))?.release();
    this.session = undefined;
  }
}
