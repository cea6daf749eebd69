/**
 * Incremental analysis (issue 8 section 3): the models are causal, so after an edit only the tokens from the
 * first changed one on can change. The last document keeps each model's caches (one per context window), its
 * residuals, its per-token crosscoder results and prefix summaries of the per-latent statistics at chunk ends;
 * a new version of the document keeps the windows that end before the first changed token, resumes the
 * window holding it from its unchanged prefix, runs the windows after it afresh, and reruns the crosscoder
 * from the last prefix summary at or before that token. Results equal a fresh analysis (tested on random
 * edits, single- and multi-window).
 */
import type { CrosscoderRunner, EncodeResult } from '../runtime/crosscoder-runner';
import type { ModelPair } from '../runtime/model-pair';
import { contextWindows } from '../runtime/model-runner';
import { withRoom } from '../runtime/room-to-grow';
import type { KvCache } from '../runtime/split-model';

/** Per-latent summary over a prefix of the document: max scaled activation, tokens firing, first argmax. */
export interface LatentSummaryArrays {
  max: Float32Array;
  count: Int32Array;
  argmax: Int32Array;
}

interface PrefixSummary {
  /** The summary covers tokens [0, end). */
  end: number;
  summary: LatentSummaryArrays;
}

export interface LiveDocument {
  /** Settings the cached state depends on (mode, context window). */
  key: string;
  ids: number[];
  /** Per model, one cache per context window (contextWindows), a later window's with its leading BOS. */
  caches: { base: KvCache[]; chat: KvCache[] };
  xBase: Float32Array;
  xChat: Float32Array;
  /** Top-k width of topValues/topIndices, and the latents `selected` holds, in order. */
  topK: number;
  select: number[];
  topValues: Float32Array;
  topIndices: Int32Array;
  selected: Float32Array[];
  /** Ascending by end; the last one covers the whole document. */
  prefixes: PrefixSummary[];
  /**
   * The leading tokens whose cached state may still be reused: all of `ids`, until an update from this
   * document starts overwriting its caches beyond the prefix it keeps (an update that then fails or is
   * cancelled leaves this document valid up to that prefix only).
   */
  reusable: number;
  /** The first token this version's models computed: the ones before it were kept from the previous version. */
  computedFrom: number;
}

/** Intermediate prefix summaries are kept while their latent values stay under this (D per summary). */
const MAX_PREFIX_VALUES = 8 * 1024 * 1024;

function commonPrefix(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * The [rows * width] residual rows of the new document whose first `kept` rows equal `prev`'s: `prev`'s own
 * buffer when it has room (nothing to copy; its rows beyond `kept` are overwritten, as `reusable` allows),
 * else a new buffer with room to grow holding a copy of them.
 */
function residualRows(prev: Float32Array | undefined, kept: number, rows: number, width: number): Float32Array {
  if (prev && prev.byteOffset + rows * width * 4 <= prev.buffer.byteLength) return new Float32Array(prev.buffer, prev.byteOffset, rows * width);
  const out = new Float32Array(withRoom(rows) * width).subarray(0, rows * width);
  if (prev && kept > 0) out.set(prev.subarray(0, kept * width));
  return out;
}

function copySummary(r: EncodeResult, offset: number, prefix: LatentSummaryArrays | undefined): LatentSummaryArrays {
  const D = r.latentMax.length;
  const out: LatentSummaryArrays = { max: new Float32Array(D), count: new Int32Array(D), argmax: new Int32Array(D) };
  for (let j = 0; j < D; j++) {
    // As one pass would: counts add, a later maximum wins only when strictly greater (earliest token on ties).
    if (prefix && !(r.latentMax[j] > prefix.max[j])) {
      out.max[j] = prefix.max[j];
      out.argmax[j] = prefix.argmax[j];
    } else {
      out.max[j] = r.latentMax[j];
      out.argmax[j] = offset + r.latentArgmax[j];
    }
    out.count[j] = (prefix?.count[j] ?? 0) + r.latentCount[j];
  }
  return out;
}

/** How the document is cut into model runs: the context window and the BOS put in front of every later window. */
export interface LiveWindowing {
  contextWindow: number;
  bosId: number;
}

/**
 * The document `ids` analysed from `prev` (same key) onwards: models from the first changed token, the
 * crosscoder from the last prefix summary at or before it. The caches' positions from that token on are
 * overwritten in place (no copy of the kept prefix), so `prev` stays usable only up to it (`reusable`).
 */
export async function updateLiveDocument(
  prev: LiveDocument | undefined,
  key: string,
  ids: number[],
  windowing: LiveWindowing,
  pair: ModelPair,
  runner: CrosscoderRunner,
  select: number[],
  /** Called before the chat model and before the crosscoder run (cancel checkpoints, progress). */
  between: (next: 'chat' | 'crosscoder') => Promise<void>,
  /** Called between context windows (cancel checkpoint). */
  checkpoint: () => Promise<void> = async () => {},
): Promise<LiveDocument> {
  const d = pair.bundle.dModel;
  const T = ids.length;
  const same = prev?.key === key ? prev : undefined;
  const t0 = same ? Math.min(commonPrefix(same.ids, ids), same.reusable) : 0;
  if (same) same.reusable = t0;
  const windows = contextWindows(T, windowing.contextWindow);

  const run = async (role: 'base' | 'chat', x: Float32Array | undefined, pastCaches: KvCache[] | undefined): Promise<{ x: Float32Array; caches: KvCache[] }> => {
    const model = pair.model(role);
    const out = residualRows(x, t0, T, d);
    const caches: KvCache[] = [];
    for (const [k, w] of windows.entries()) {
      if (k > 0) await checkpoint();
      const lead = k === 0 ? 0 : 1;
      // This window's tokens before the first changed one: the previous run's cache holds them already.
      const kept = Math.max(0, Math.min(t0, w.end) - w.start);
      const past = pastCaches?.[k]?.truncate(kept + lead, { reclaim: true });
      const feed = past ? ids.slice(w.start + kept, w.end) : [...(lead ? [windowing.bosId] : []), ...ids.slice(w.start, w.end)];
      if (feed.length === 0) {
        caches.push(past ?? (await model.firstHalf([])).cache);
        continue;
      }
      const r = await model.firstHalf(feed, past);
      out.set(past ? r.resid : r.resid.subarray(lead * d), (past ? w.start + kept : w.start) * d);
      caches.push(r.cache);
    }
    return { x: out, caches };
  };
  const base = await run('base', same?.xBase, same?.caches.base);
  await between('chat');
  const chat = await run('chat', same?.xChat, same?.caches.chat);
  await between('crosscoder');

  const K = runner.topK;
  const sameEncoding = same && same.topK === K && same.select.length === select.length && same.select.every((j, i) => j === select[i]);
  const kept = sameEncoding ? same.prefixes.filter((p) => p.end <= t0 && p.end <= T) : [];
  const start = kept.length ? kept[kept.length - 1].end : 0;
  const prefixSummary = kept.length ? kept[kept.length - 1].summary : undefined;
  const n = T - start;
  const prefixes = [...kept];
  const D = runner.ckpt.dictSize;
  const enc = await runner.encode(base.x.subarray(start * d), chat.x.subarray(start * d), n, select, (done, partial) => {
    if (done < n && (prefixes.length + 2) * D <= MAX_PREFIX_VALUES) prefixes.push({ end: start + done, summary: copySummary(partial, start, prefixSummary) });
  });
  if (n > 0 || !prefixes.length || prefixes[prefixes.length - 1].end !== T) prefixes.push({ end: T, summary: n > 0 ? copySummary(enc, start, prefixSummary) : prefixSummary! });

  const topValues = new Float32Array(T * K);
  const topIndices = new Int32Array(T * K);
  const selected = select.map(() => new Float32Array(T));
  if (start > 0 && same) {
    topValues.set(same.topValues.subarray(0, start * K));
    topIndices.set(same.topIndices.subarray(0, start * K));
    selected.forEach((s, i) => s.set(same.selected[i].subarray(0, start)));
  }
  topValues.set(enc.topValues, start * K);
  topIndices.set(enc.topIndices, start * K);
  selected.forEach((s, i) => s.set(enc.selected[i], start));
  return { key, ids, caches: { base: base.caches, chat: chat.caches }, xBase: base.x, xChat: chat.x, topK: K, select, topValues, topIndices, selected, prefixes, reusable: T, computedFrom: t0 };
}
