/** Deterministic data for the webview tests and benchmark: a paper-sized latent table and long token runs. */
import { TOKEN_SPECIAL, TOKEN_TEMPLATE } from '../../extension/protocol/messages';
import { DEFAULT_THRESHOLDS } from '../../extension/protocol/latent-verdict';
import { buffer, rng } from './harness';

export const PAPER_DICT_SIZE = 73_728;

export interface TableFixture {
  dictSize: number;
  deltaNorm: Float32Array;
  decCos: Float32Array;
  nuError: Float32Array;
  nuReconstruction: Float32Array;
  freq: Float32Array;
  maxAct: Float32Array;
}

/** Trimodal Delta-norm like the paper's figure; Latent Scaling ratios for ~10% of the latents, NaN elsewhere. */
export function makeTable(dictSize = PAPER_DICT_SIZE, seed = 1): TableFixture {
  const r = rng(seed);
  const t: TableFixture = {
    dictSize,
    deltaNorm: new Float32Array(dictSize), decCos: new Float32Array(dictSize),
    nuError: new Float32Array(dictSize).fill(NaN), nuReconstruction: new Float32Array(dictSize).fill(NaN),
    freq: new Float32Array(dictSize), maxAct: new Float32Array(dictSize),
  };
  for (let j = 0; j < dictSize; j++) {
    const u = r();
    t.deltaNorm[j] = u < 0.05 ? 0.88 + 0.12 * r() : u < 0.1 ? 0.12 * r() : u < 0.8 ? 0.5 + (r() - 0.5) * 0.25 : r();
    t.decCos[j] = 2 * r() - 1;
    if (t.deltaNorm[j] > 0.85 || r() < 0.05) {
      t.nuError[j] = -0.1 + 1.5 * r();
      t.nuReconstruction[j] = -0.1 + 1.5 * r();
    }
    t.freq[j] = r() ** 4;
    t.maxAct[j] = 50 * r();
  }
  return t;
}

export function tableMessage(t: TableFixture, bundle = 'test bundle') {
  return {
    type: 'table', message: '',
    table: {
      dictSize: t.dictSize, bundle,
      deltaNorm: buffer('f32', t.deltaNorm), decCos: buffer('f32', t.decCos),
      nuError: buffer('f32', t.nuError), nuReconstruction: buffer('f32', t.nuReconstruction),
      freq: buffer('f32', t.freq), maxAct: buffer('f32', t.maxAct),
      thresholds: DEFAULT_THRESHOLDS,
    },
  };
}

const WORDS = ['the', ' model', ' answer', ',', ' code', '\n', ' 42', ' def', '(', ')', ' chat', ' is', ' a', ' token', '.'];

export interface TokenFixture {
  texts: string[];
  ids: Int32Array;
  flags: Uint8Array;
  topK: number;
  topLatents: Int32Array;
  topActs: Float32Array;
  /** Full activation vector of latent 7 (the one highlighted in tests). */
  latent7: Float32Array;
}

export function makeTokens(n: number, seed = 2, inject: string[] = []): TokenFixture {
  const r = rng(seed);
  const k = 5;
  const f: TokenFixture = {
    texts: [], ids: new Int32Array(n), flags: new Uint8Array(n), topK: k,
    topLatents: new Int32Array(n * k).fill(-1), topActs: new Float32Array(n * k), latent7: new Float32Array(n),
  };
  for (let i = 0; i < n; i++) {
    f.texts.push(i === 0 ? '<bos>' : i <= inject.length ? inject[i - 1] : WORDS[Math.floor(r() * WORDS.length)]);
    f.ids[i] = i === 0 ? 2 : 100 + Math.floor(r() * 256_000);
    f.flags[i] = i === 0 ? TOKEN_SPECIAL : i % 97 === 1 ? TOKEN_TEMPLATE : 0;
    const acts = Array.from({ length: k }, () => 10 * r()).sort((a, b) => b - a);
    const used = new Set<number>();
    for (let s = 0; s < k; s++) {
      let latent = Math.floor(r() * 50);
      while (used.has(latent)) latent = (latent + 1) % 50;
      used.add(latent);
      f.topLatents[i * k + s] = latent;
      f.topActs[i * k + s] = acts[s];
      if (latent === 7) f.latent7[i] = acts[s];
    }
  }
  return f;
}

export function documentMessage(f: TokenFixture, latentBriefs: { latent: number; deltaNorm: number; nuError: number; nuReconstruction: number; label: string }[]) {
  return {
    type: 'document',
    doc: {
      title: 'fixture.txt', bundle: 'test bundle', provider: 'cpu', kind: 'plain',
      texts: f.texts, ids: buffer('i32', f.ids), flags: buffer('u8', f.flags), topK: f.topK,
      topLatents: buffer('i32', f.topLatents), topActs: buffer('f32', f.topActs),
      latents: latentBriefs, thresholds: DEFAULT_THRESHOLDS,
    },
    highlight: { mode: 'none', series: [], note: '' },
  };
}

export function highlightMessage(acts: Float32Array, latent = 7) {
  let max = 0;
  for (const a of acts) max = Math.max(max, a);
  return {
    type: 'highlight',
    highlight: { mode: 'latents', note: '', series: [{ latent, name: `latent ${latent}`, acts: buffer('f32', acts), max, maxSource: 'max in this text', approximate: false }] },
  };
}
