/**
 * Runtime validation of every webview -> host message. A webview is an untrusted page (it renders token
 * strings from arbitrary documents), so the host accepts only messages of exactly the shapes in
 * messages.ts, with indices inside the current data: anything else is rejected with a ProtocolError naming
 * the offending field, and never reaches a handler.
 */
import {
  ANNOTATION_STATUSES,
  SaveAnnotation,
  type GenerationToHost,
  type LatentToHost,
  type LatentsToHost,
  type TokensToHost,
} from './messages';

export class ProtocolError extends Error {
  constructor(readonly path: string, problem: string) {
    super(`webview message rejected: ${path} ${problem}`);
    this.name = 'ProtocolError';
  }
}

/** Upper bounds (exclusive) for the indices a message may carry, from the data the host currently holds. */
export interface MessageLimits {
  /** Number of latents of the open crosscoder (0 when none is open: every latent id is rejected). */
  dictSize: number;
  /** Tokens in the analysed text shown by this webview. */
  tokens: number;
  /** Evidence entries of the annotation shown by this webview. */
  evidence: number;
  /** Answers shown by the generation panel. */
  columns?: number;
}

type Check<T> = (v: unknown, path: string) => T;

const MAX_TEXT = 100_000;

function fail(path: string, problem: string): never {
  throw new ProtocolError(path, problem);
}

function index(bound: (l: MessageLimits) => number, what: string): (l: MessageLimits) => Check<number> {
  return (l) => (v, path) => {
    const n = bound(l);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(path, `must be a non-negative integer ${what} index`);
    if (v >= n) fail(path, `${v} is out of range (${n} ${what}s)`);
    return v;
  };
}

const latentId = index((l) => l.dictSize, 'latent');
const tokenIndex = index((l) => l.tokens, 'token');
const evidenceIndex = index((l) => l.evidence, 'evidence');
const columnIndex = index((l) => l.columns ?? 0, 'column');

const nonNegativeInt: Check<number> = (v, path) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(path, 'must be a non-negative integer');
  return v;
};

const text: Check<string> = (v, path) => {
  if (typeof v !== 'string') fail(path, 'must be a string');
  if (v.length > MAX_TEXT) fail(path, `is longer than ${MAX_TEXT} characters`);
  return v;
};

const finiteNumber: Check<number> = (v, path) => {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, 'must be a finite number');
  return v;
};

/** Steering requests carry at most this many latents. */
export const MAX_STEER_LATENTS = 64;

/** A non-empty list of {latent, strength} with distinct latents in range and finite strengths. */
function steerList(l: MessageLimits): Check<{ latent: number; strength: number }[]> {
  return (v, path) => {
    if (!Array.isArray(v) || v.length === 0) fail(path, 'must be a non-empty array');
    if (v.length > MAX_STEER_LATENTS) fail(path, `has ${v.length} entries; at most ${MAX_STEER_LATENTS}`);
    const out = v.map((e, i) => object(e, `${path}[${i}]`, { latent: latentId(l), strength: finiteNumber }));
    const seen = new Set<number>();
    out.forEach((e, i) => {
      if (seen.has(e.latent)) fail(`${path}[${i}].latent`, `repeats latent ${e.latent}`);
      seen.add(e.latent);
    });
    return out;
  };
}

function literal<T extends string | number>(...values: T[]): Check<T> {
  return (v, path) => {
    if (!values.includes(v as T)) fail(path, `must be one of ${values.map((x) => JSON.stringify(x)).join(', ')}`);
    return v as T;
  };
}

type Shape = Record<string, Check<unknown>>;
type FromShape<S extends Shape> = { [K in keyof S]: S[K] extends Check<infer T> ? T : never };

/** A plain object with exactly these keys (no more, no fewer, except that those in `optional` may be absent). */
function object<S extends Shape>(v: unknown, path: string, shape: S, optional: readonly string[] = []): FromShape<S> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) fail(path, 'must be a plain object');
  const rec = v as Record<string, unknown>;
  const own = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);
  for (const key of Object.keys(rec)) if (!own(shape, key)) fail(`${path}.${key}`, 'is not an allowed field');
  const out: Record<string, unknown> = {};
  for (const [key, check] of Object.entries(shape)) {
    if (!own(rec, key)) {
      if (optional.includes(key)) continue;
      fail(`${path}.${key}`, 'is missing');
    }
    out[key] = check(rec[key], `${path}.${key}`);
  }
  return out as FromShape<S>;
}

type Variants = Record<string, (l: MessageLimits) => Shape>;

function byType<T>(variants: Variants, v: unknown, limits: MessageLimits): T {
  if (typeof v !== 'object' || v === null) fail('message', 'must be an object');
  const type = (v as { type?: unknown }).type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(variants, type)) {
    fail('message.type', `must be one of ${Object.keys(variants).join(', ')}`);
  }
  if (type === 'request') return request(v, limits) as T;
  return object(v, 'message', { type: literal(type), ...variants[type](limits) }) as T;
}

/** A request as engine/channel sends it: its params spread next to type, id and method. */
export type RequestMessage = { type: 'request'; id: number; method: string };

interface RequestShape {
  params: (l: MessageLimits) => Shape;
  /** A patch's fields: each may be left out, but at least one must be there. */
  patch?: readonly string[];
}

/** The params each request type may carry. */
const REQUESTS: Record<string, RequestShape> = {
  // Only the fields the user changed, so a save never overwrites another window's edit of the others.
  [SaveAnnotation.method]: {
    params: (l) => ({ latent: latentId(l), label: text, notes: text, status: literal(...ANNOTATION_STATUSES) }),
    patch: ['label', 'notes', 'status'],
  },
};

function request(v: unknown, limits: MessageLimits): RequestMessage {
  const method = (v as { method?: unknown }).method;
  if (typeof method !== 'string' || !Object.prototype.hasOwnProperty.call(REQUESTS, method)) {
    fail('message.method', `must be one of ${Object.keys(REQUESTS).join(', ')}`);
  }
  const { params, patch = [] } = REQUESTS[method];
  const m = object(v, 'message', { type: literal('request'), id: nonNegativeInt, method: literal(method), ...params(limits) }, patch);
  if (patch.length && !patch.some((f) => Object.prototype.hasOwnProperty.call(m, f))) fail('message', `must change at least one of ${patch.join(', ')}`);
  return m as RequestMessage;
}

const slot = literal<0 | 1>(0, 1);
const REQUEST: Variants = { request: () => ({}) };

const TOKENS: Variants = {
  ready: () => ({}),
  highlightLatent: (l) => ({ latent: latentId(l), slot }),
  clearHighlight: () => ({}),
  openLatent: (l) => ({ latent: latentId(l) }),
  revealToken: (l) => ({ index: tokenIndex(l) }),
  exportHtml: () => ({}),
  steerLatent: (l) => ({ latent: latentId(l) }),
  ...REQUEST,
};

const LATENTS: Variants = {
  ready: () => ({}),
  highlightLatent: (l) => ({ latent: latentId(l), slot }),
  openLatent: (l) => ({ latent: latentId(l) }),
  rowCount: () => ({ shown: nonNegativeInt, total: nonNegativeInt }),
  steerLatents: (l) => ({ steer: steerList(l) }),
  ...REQUEST,
};

const LATENT: Variants = {
  ready: () => ({}),
  highlightLatent: (l) => ({ latent: latentId(l), slot }),
  revealToken: (l) => ({ index: tokenIndex(l) }),
  openEvidence: (l) => ({ index: evidenceIndex(l) }),
  steerLatent: (l) => ({ latent: latentId(l) }),
  ...REQUEST,
};

const GENERATION: Variants = {
  ready: () => ({}),
  cancel: () => ({ run: nonNegativeInt }),
  insert: (l) => ({ run: nonNegativeInt, column: columnIndex(l) }),
  highlightLatent: (l) => ({ latent: latentId(l), slot }),
  openLatent: (l) => ({ latent: latentId(l) }),
  steerLatent: (l) => ({ latent: latentId(l) }),
  ...REQUEST,
};

export function parseTokensMessage(v: unknown, limits: MessageLimits): TokensToHost | RequestMessage {
  return byType<TokensToHost | RequestMessage>(TOKENS, v, limits);
}

export function parseLatentsMessage(v: unknown, limits: MessageLimits): LatentsToHost | RequestMessage {
  return byType<LatentsToHost | RequestMessage>(LATENTS, v, limits);
}

export function parseLatentMessage(v: unknown, limits: MessageLimits): LatentToHost | RequestMessage {
  return byType<LatentToHost | RequestMessage>(LATENT, v, limits);
}

export function parseGenerationMessage(v: unknown, limits: MessageLimits): GenerationToHost | RequestMessage {
  return byType<GenerationToHost | RequestMessage>(GENERATION, v, limits);
}
