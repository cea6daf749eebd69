import * as ort from 'onnxruntime-node';
import type { ResidualModel } from './model-runner';
import { LatentDiffError } from '../errors';
import type { SessionSource } from './providers';
import { buildGemma2Graph, type Gemma2BuildOptions, type Gemma2Graph } from '../graphs/gemma2/gemma2-build';

/**
 * A bundle's `{"hf": folder}` model (SPEC 2, 8): the Gemma 2 graph built from the folder, run by one ORT
 * session. The caller creates the session (provider choice, session options) from the placed graph.
 */
export class Gemma2ResidualModel implements ResidualModel {
  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly graph: Gemma2Graph,
    private readonly session: ort.InferenceSession,
  ) {}

  static async open(
    name: string,
    dir: string,
    options: Gemma2BuildOptions,
    createSession: (source: SessionSource) => Promise<ort.InferenceSession>,
  ): Promise<Gemma2ResidualModel> {
    const graph = buildGemma2Graph(dir, options);
    const source: SessionSource = graph.path ?? { bytes: graph.bytes, externalData: graph.externalData };
    let session: ort.InferenceSession;
    try {
      session = await createSession(source);
    } catch (e) {
      throw new LatentDiffError(dir, `ONNX Runtime cannot load the Gemma 2 graph built from this folder: ${(e as Error).message.split('\n')[0]}`, 'model-load');
    }
    return new Gemma2ResidualModel(name, dir, graph, session);
  }

  /** Residual stream after block `layer` for one unpadded sequence: [T * hidden] float32. */
  async residual(ids: number[]): Promise<Float32Array> {
    const vocab = this.graph.config.vocabSize;
    const bad = ids.find((i) => !(Number.isInteger(i) && i >= 0 && i < vocab));
    if (bad !== undefined) throw new LatentDiffError(this.dir, `token id ${bad} is outside this model's vocabulary (vocab_size ${vocab}): the tokenizer does not belong to this model`, 'bad-token');
    const T = ids.length;
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
    };
    return (await this.session.run(feeds, [this.graph.outputName]))[this.graph.outputName].data as Float32Array;
  }

  dispose(): Promise<void> {
    return this.session.release();
  }
}
