import * as ort from 'onnxruntime-node';
import type { ResidualModel } from './model-runner';
import type { Gemma2BuildOptions, Gemma2Graph } from '../graphs/gemma2/gemma2-build';
import { checkTokenIds, openGemma2Session, type CreateSession } from './gemma2-session';

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
    createSession: CreateSession,
  ): Promise<Gemma2ResidualModel> {
    const { graph, session } = await openGemma2Session(dir, options, createSession);
    return new Gemma2ResidualModel(name, dir, graph, session);
  }

  /** Residual stream after block `layer` for one unpadded sequence: [T * hidden] float32. */
  async residual(ids: number[]): Promise<Float32Array> {
    checkTokenIds(ids, this.graph.config.vocabSize, this.dir);
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
