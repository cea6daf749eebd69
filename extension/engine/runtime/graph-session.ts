import * as ort from 'onnxruntime-node';
import { placeGraph } from '../graphs/place-graph';
import { withCpuThreads } from './cpu-threads';

export type SessionOptions = ort.InferenceSession.SessionOptions;

/**
 * The caller's session options with `disable_prepacking` defaulting to "1": weights in external data are then
 * memory-mapped instead of copied (platform-notes: ~1x weights' memory, fast session creation), and a thread
 * per physical core (cpu-threads.ts). A caller that sets either keeps its own value.
 */
export function withGraphDefaults(options: SessionOptions = {}): SessionOptions {
  const extra = (options.extra ?? {}) as Record<string, unknown>;
  const session = { disable_prepacking: '1', ...((extra.session ?? {}) as Record<string, unknown>) };
  return withCpuThreads({ ...options, extra: { ...extra, session } });
}

/** Writes a built graph where ORT can resolve its external weights (place-graph.ts) and opens a session on it. */
export async function openGraphSession(
  graph: { bytes: Uint8Array; weightFiles: string[] },
  name: string,
  cacheDir: string,
  options?: SessionOptions,
): Promise<ort.InferenceSession> {
  const placed = placeGraph(graph.bytes, graph.weightFiles, name, cacheDir);
  const opts = withGraphDefaults(options);
  if (placed.path) return ort.InferenceSession.create(placed.path, opts);
  return ort.InferenceSession.create(placed.bytes, { ...opts, externalData: placed.externalData });
}
