import type * as ort from 'onnxruntime-node';
import { LatentDiffError } from '../errors';
import type { SessionSource } from './providers';
import { buildGemma2Graph, type Gemma2BuildOptions, type Gemma2Graph } from '../graphs/gemma2/gemma2-build';

export type CreateSession = (source: SessionSource) => Promise<ort.InferenceSession>;

/** A Gemma 2 graph built from a model folder and the session the caller creates on it (provider, options). */
export interface Gemma2Session {
  graph: Gemma2Graph;
  session: ort.InferenceSession;
}

export async function openGemma2Session(dir: string, options: Gemma2BuildOptions, createSession: CreateSession): Promise<Gemma2Session> {
  const graph = buildGemma2Graph(dir, options);
  const source: SessionSource = graph.path ?? { bytes: graph.bytes, externalData: graph.externalData };
  try {
    return { graph, session: await createSession(source) };
  } catch (e) {
    throw new LatentDiffError(dir, `ONNX Runtime cannot load the Gemma 2 graph built from this folder: ${(e as Error).message.split('\n')[0]}`, 'model-load');
  }
}

/** Token ids from a tokenizer that does not belong to the model are refused by name. */
export function checkTokenIds(ids: number[], vocabSize: number, dir: string): void {
  const bad = ids.find((i) => !(Number.isInteger(i) && i >= 0 && i < vocabSize));
  if (bad !== undefined) throw new LatentDiffError(dir, `token id ${bad} is outside this model's vocabulary (vocab_size ${vocabSize}): the tokenizer does not belong to this model`, 'bad-token');
}
