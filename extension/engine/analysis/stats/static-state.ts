/**
 * The per-latent facts that do not depend on the data (static metrics, decoder dot products, the error-beta
 * set), stored with a run's state so that `merge` needs no bundle.
 */
import type { LatentMetrics } from '../../types';
import type { DecoderGeometry } from '../../latents/latent-scaling';
import { readStateFile, writeStateFile } from './state-file';

export interface StaticState {
  metrics: LatentMetrics;
  geo: DecoderGeometry;
  errorSet: Uint8Array;
}

export function writeStaticState(path: string, s: StaticState): void {
  const m = s.metrics;
  writeStateFile(path, { dictSize: m.dictSize }, {
    decNormBase: m.decNormBase, decNormChat: m.decNormChat, deltaNorm: m.deltaNorm, decCos: m.decCos,
    encNormBase: m.encNormBase, encNormChat: m.encNormChat, encCos: m.encCos, scale: m.scale, tag: m.tag,
    chatNormSq: s.geo.chatNormSq, baseDotChat: s.geo.baseDotChat, biasBaseDotChat: s.geo.biasBaseDotChat, biasChatDotChat: s.geo.biasChatDotChat,
    errorSet: s.errorSet,
  });
}

export function readStaticState(path: string): StaticState {
  const f = readStateFile(path);
  const dictSize = f.num('dictSize');
  const f32 = (n: string) => f.get(n, 'f32', dictSize);
  const f64 = (n: string) => f.get(n, 'f64', dictSize);
  return {
    metrics: {
      dictSize,
      decNormBase: f32('decNormBase'), decNormChat: f32('decNormChat'), deltaNorm: f32('deltaNorm'), decCos: f32('decCos'),
      encNormBase: f32('encNormBase'), encNormChat: f32('encNormChat'), encCos: f32('encCos'), scale: f32('scale'), tag: f.get('tag', 'u8', dictSize),
    },
    geo: { chatNormSq: f64('chatNormSq'), baseDotChat: f64('baseDotChat'), biasBaseDotChat: f64('biasBaseDotChat'), biasChatDotChat: f64('biasChatDotChat') },
    errorSet: f.get('errorSet', 'u8', dictSize),
  };
}
