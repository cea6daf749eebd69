/**
 * The UI's pure logic against independent implementations written here, on random inputs: decoration
 * buckets, token lookup by offset, the sidebar's sort orders and filters, verdict codes vs the engine's
 * verdicts, highlight series and normalisation, webview payload packing, and the standalone export's
 * script-safe JSON.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyRanking } from '../../extension/engine/analysis/latent-ranking';
import { BUCKETS, bucketOf, bucketRanges } from '../../extension/host/decoration-buckets';
import { standaloneTokenHtml } from '../../extension/presentation/export-html';
import { scriptSafeJson } from '../../extension/presentation/webview-html';
import { chatSpecificLatents, chatSpecificitySeries, latentSeries, normalizationMax, topKVector } from '../../extension/presentation/highlight-series';
import { spanIndex, tokenAt } from '../../extension/host/token-lookup';
import { toBuffer, tokenDocument } from '../../extension/presentation/webview-payloads';
import { latentVerdict } from '../../extension/engine/latents/verdict';
import { tagOf } from '../../extension/engine/latents/tags';
import type { AnalysisResult, LatentMetrics, TokenInfo } from '../../extension/engine/types';
import { DEFAULT_THRESHOLDS, VERDICT_CODE_KINDS, verdictCode, verdictOf } from '../../extension/protocol/latent-verdict';
import { TOKEN_OUTSIDE, TOKEN_TEMPLATE } from '../../extension/protocol/messages';
import { DEFAULT_FILTER, LatentTableModel, sortOrder, type LatentFilter } from '../../webview/latents/table-model';
import { seededRandom as rng } from '../../extension/engine/random';


/** Tokens tiling a text of random lengths, with template tokens (no span) and empty byte-tail spans between. */
function randomTokens(r: () => number, n: number): TokenInfo[] {
  const out: TokenInfo[] = [];
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const u = r();
    if (u < 0.08) out.push({ id: 106, text: '<start_of_turn>', start: null, end: null, template: true, special: true });
    else if (u < 0.12) out.push({ id: 300, text: '', start: offset, end: offset, template: false, special: false });
    else {
      const len = 1 + Math.floor(r() * 6);
      out.push({ id: 1000 + i, text: 'x'.repeat(len), start: offset, end: offset + len, template: false, special: false });
      offset += len;
    }
  }
  return out;
}

test('decoration buckets: every token with a span lands in ceil(8 act/max), clamped, or nowhere when act <= 0', () => {
  const r = rng(1);
  for (let trial = 0; trial < 20; trial++) {
    const tokens = randomTokens(r, 400);
    const acts = Float64Array.from(tokens, () => (r() < 0.3 ? 0 : r() < 0.1 ? -r() : 3 * r()));
    const max = 0.5 + 2 * r();
    const base = Math.floor(100 * r());
    const got = bucketRanges(tokens, Float32Array.from(acts), max, base);
    const expected: [number, number][][] = Array.from({ length: BUCKETS }, () => []);
    tokens.forEach((t, i) => {
      const a = Math.fround(acts[i]);
      if (t.start === null || t.end === null || t.end <= t.start || !(a > 0)) return;
      const b = Math.min(BUCKETS, Math.max(1, Math.ceil((a / max) * BUCKETS)));
      expected[b - 1].push([t.start + base, t.end + base]);
    });
    assert.deepEqual(got, expected);
  }
  assert.equal(bucketOf(NaN, 1), 0);
  assert.equal(bucketOf(1, 0), 0);
  assert.equal(bucketOf(1e-9, 1), 1);
  assert.equal(bucketOf(5, 1), BUCKETS);
});

test('tokenAt finds the token under every offset (template and empty tokens never match)', () => {
  const r = rng(2);
  for (let trial = 0; trial < 10; trial++) {
    const tokens = randomTokens(r, 300);
    const index = spanIndex(tokens);
    const end = Math.max(...tokens.map((t) => t.end ?? 0));
    for (let off = -2; off <= end + 2; off++) {
      const linear = tokens.findIndex((t) => t.start !== null && t.end !== null && t.start <= off && off < t.end);
      assert.equal(tokenAt(tokens, index, off), linear, `offset ${off}`);
    }
  }
});

function referenceOrder(col: Float32Array): number[] {
  const ids = Array.from(col.keys());
  return ids.sort((a, b) => {
    const x = col[a], y = col[b];
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) === Number.isNaN(y) ? a - b : Number.isNaN(x) ? 1 : -1;
    return x - y || a - b;
  });
}

test('sortOrder equals a comparator sort: ascending, NaN last, ties by id, negatives and zeros included', () => {
  const r = rng(3);
  for (const n of [1, 2, 17, 1000, 20_000]) {
    const col = Float32Array.from({ length: n }, () => {
      const u = r();
      return u < 0.1 ? NaN : u < 0.2 ? Math.round(4 * r()) / 2 : u < 0.25 ? -0 : (r() - 0.5) * 10 ** (6 * r() - 3);
    });
    const { order, finite } = sortOrder(col);
    const ref = referenceOrder(col);
    // -0 and +0 compare equal numerically; the packed keys put -0 first. Compare values, then ids within equal values.
    const value = (j: number) => col[j] + 0; // -0 -> 0
    assert.deepEqual(Array.from(order, value), ref.map(value));
    assert.equal(finite, ref.filter((j) => !Number.isNaN(col[j])).length);
    assert.equal(new Set(order).size, n);
  }
});

test('the sidebar query equals an independent filter + sort on random tables and filters', () => {
  const r = rng(4);
  const D = 5000;
  const cols = {
    dictSize: D,
    deltaNorm: Float32Array.from({ length: D }, () => r()),
    decCos: Float32Array.from({ length: D }, () => 2 * r() - 1),
    nuError: Float32Array.from({ length: D }, () => (r() < 0.6 ? NaN : 1.2 * r() - 0.1)),
    nuReconstruction: Float32Array.from({ length: D }, () => (r() < 0.6 ? NaN : 1.2 * r() - 0.1)),
    freq: Float32Array.from({ length: D }, () => r() ** 3),
    maxAct: Float32Array.from({ length: D }, () => 20 * r()),
  };
  const model = new LatentTableModel(cols, DEFAULT_THRESHOLDS);
  const labels: [number, string][] = [[3, 'Refusal'], [77, 'code keyword'], [4000, 'refusal again'], [12, 'x']];
  model.setLabels(labels);
  const active = Uint32Array.from({ length: 300 }, (_, i) => (i * 13) % D);
  const maxes = Float32Array.from(active, () => 0.1 + r());
  model.setDocumentActivity(active, maxes);
  const docMax = new Float32Array(D);
  active.forEach((j, i) => { docMax[j] = maxes[i]; });
  const flags = ['any', 'robust', 'shrinkage', 'decoupling', 'artifact', 'unverified'] as const;
  const tags = ['any', 'chat-only', 'base-only', 'shared', 'other'] as const;
  const keys = ['id', 'deltaNorm', 'decCos', 'nuError', 'nuReconstruction', 'freq', 'maxAct', 'docAct'] as const;
  const colOf = (k: (typeof keys)[number]) => (k === 'docAct' ? docMax : k === 'id' ? Float32Array.from({ length: D }, (_, i) => i) : cols[k]);
  for (let trial = 0; trial < 60; trial++) {
    const f: LatentFilter = {
      ...DEFAULT_FILTER,
      tag: tags[Math.floor(r() * tags.length)],
      flag: flags[Math.floor(r() * flags.length)],
      deltaMin: r() < 0.5 ? 0 : 0.5 * r(), deltaMax: r() < 0.5 ? 1 : 0.5 + 0.5 * r(),
      nuErrorMax: r() < 0.7 ? NaN : r(), nuReconstructionMax: r() < 0.7 ? NaN : r(),
      freqMin: r() < 0.8 ? NaN : 0.1 * r(), maxActMin: r() < 0.8 ? NaN : 10 * r(),
      activeInDocument: r() < 0.2, text: r() < 0.15 ? 'refusal' : r() < 0.1 ? '#77' : '',
    };
    const sort = { key: keys[Math.floor(r() * keys.length)], descending: r() < 0.5 };
    const t = DEFAULT_THRESHOLDS;
    const pass = (j: number) => {
      const dn = cols.deltaNorm[j], ne = cols.nuError[j], nr = cols.nuReconstruction[j];
      const v = latentVerdict(tagOf(dn, t), ne, nr, { completeShrinkage: t.nuError, latentDecoupling: t.nuReconstruction });
      if (f.tag !== 'any' && tagOf(dn, t) !== f.tag) return false;
      const cs = v.completeShrinkage === true, ld = v.latentDecoupling === true;
      const ok = {
        any: true, robust: v.verdict === 'robust-chat-specific', unverified: v.verdict === 'chat-only-unscaled',
        shrinkage: (v.verdict === 'complete-shrinkage') && cs, decoupling: (v.verdict === 'complete-shrinkage' || v.verdict === 'latent-decoupling') && ld,
        artifact: v.verdict === 'complete-shrinkage' || v.verdict === 'latent-decoupling',
      }[f.flag];
      if (!ok) return false;
      if (!(dn >= f.deltaMin && dn <= f.deltaMax) && (f.deltaMin > 0 || f.deltaMax < 1)) return false;
      if (!Number.isNaN(f.nuErrorMax) && !(ne <= f.nuErrorMax)) return false;
      if (!Number.isNaN(f.nuReconstructionMax) && !(nr <= f.nuReconstructionMax)) return false;
      if (!Number.isNaN(f.freqMin) && !(cols.freq[j] >= f.freqMin)) return false;
      if (!Number.isNaN(f.maxActMin) && !(cols.maxAct[j] >= f.maxActMin)) return false;
      if (f.activeInDocument && !(docMax[j] > 0)) return false;
      if (f.text === 'refusal' && !labels.some(([k, l]) => k === j && l.toLowerCase().includes('refusal'))) return false;
      if (f.text === '#77' && j !== 77) return false;
      return true;
    };
    const col = colOf(sort.key);
    const ids = Array.from({ length: D }, (_, j) => j).filter(pass);
    const finite = ids.filter((j) => !Number.isNaN(col[j])).sort((a, b) => col[a] - col[b] || a - b);
    if (sort.descending) finite.reverse();
    const expected = [...finite, ...ids.filter((j) => Number.isNaN(col[j]))];
    const got = Array.from(model.query(f, sort));
    assert.deepEqual(got.map((j) => col[j]), expected.map((j) => col[j]), `trial ${trial}: ${JSON.stringify({ f, sort })}`);
    assert.deepEqual([...got].sort((a, b) => a - b), [...expected].sort((a, b) => a - b));
  }
});

test('verdict codes agree with the engine verdicts (NaN included)', () => {
  const r = rng(5);
  const t = DEFAULT_THRESHOLDS;
  for (let i = 0; i < 20_000; i++) {
    const pick = () => (r() < 0.15 ? NaN : 1.5 * r() - 0.2);
    const dn = r() < 0.02 ? NaN : r(), ne = pick(), nr = pick();
    const v = latentVerdict(tagOf(dn, t), ne, nr, { completeShrinkage: t.nuError, latentDecoupling: t.nuReconstruction });
    const code = verdictCode(dn, ne, nr, t);
    assert.equal(VERDICT_CODE_KINDS[code], v.verdict, JSON.stringify({ dn, ne, nr }));
    if (code === 7) assert.equal(v.latentDecoupling, true);
  }
});

test('verdict codes agree with the engine verdicts under both nu sign conventions; absolute flags strongly negative nu', () => {
  const r = rng(6);
  for (const nuSign of ['signed', 'absolute'] as const) {
    const t = { ...DEFAULT_THRESHOLDS, nuSign };
    for (let i = 0; i < 20_000; i++) {
      const dn = 0.8 + 0.2 * r(), ne = 3 * r() - 1.5, nr = 3 * r() - 1.5;
      const v = latentVerdict(tagOf(dn, t), ne, nr, { completeShrinkage: t.nuError, latentDecoupling: t.nuReconstruction, nuSign });
      assert.equal(VERDICT_CODE_KINDS[verdictCode(dn, ne, nr, t)], v.verdict, JSON.stringify({ nuSign, dn, ne, nr }));
      const flagged = (nu: number, thr: number) => (nuSign === 'absolute' ? Math.abs(nu) : nu) >= thr;
      if (dn > t.chatOnlyAbove) assert.equal(v.verdict === 'robust-chat-specific', !flagged(ne, t.nuError) && !flagged(nr, t.nuReconstruction));
    }
  }
  const t = { ...DEFAULT_THRESHOLDS, nuSign: 'absolute' as const };
  assert.equal(VERDICT_CODE_KINDS[verdictCode(0.95, -0.6, 0.1, t)], 'complete-shrinkage');
  assert.equal(VERDICT_CODE_KINDS[verdictCode(0.95, -0.6, 0.1, DEFAULT_THRESHOLDS)], 'robust-chat-specific');
  assert.match(verdictOf(0.95, -0.6, 0.1, t).sentence, /\|nu_eps\| = 0\.60 >= 0\.2/);
  // The sentence names the artifact that decided the verdict, and both when both flags are up.
  assert.match(verdictOf(0.95, 0.4, 0.1, DEFAULT_THRESHOLDS).sentence, /nu_eps = 0\.40 >= 0\.2\): a Complete Shrinkage artifact/);
  assert.doesNotMatch(verdictOf(0.95, 0.4, 0.1, DEFAULT_THRESHOLDS).sentence, /Latent Decoupling/);
  assert.match(verdictOf(0.95, 0.4, 0.7, DEFAULT_THRESHOLDS).sentence, /Complete Shrinkage artifact.*nu_r = 0\.70 >= 0\.5: Latent Decoupling/);
  assert.match(verdictOf(0.95, 0.1, 0.7, DEFAULT_THRESHOLDS).sentence, /^Looks chat-only by Delta-norm \(0\.95\).*Latent Decoupling artifact/);
  assert.match(verdictOf(0.95, 0.1, 0.2, DEFAULT_THRESHOLDS).sentence, /^Robust chat-specific.*nu_eps = 0\.10 < 0\.2, nu_r = 0\.20 < 0\.5/);
});

function fakeResult(T: number, r: () => number, selected: number[]): AnalysisResult {
  const tokens: TokenInfo[] = Array.from({ length: T }, (_, i) => ({ id: i + 5, text: `t${i}`, start: i === 0 ? null : 2 * i, end: i === 0 ? null : 2 * i + 2, template: i % 7 === 3, special: i === 0 }));
  const top = tokens.map(() => {
    const row: { latent: number; act: number }[] = [];
    const used = new Set<number>();
    for (let k = 0; k < 1 + Math.floor(r() * 4); k++) {
      const latent = Math.floor(r() * 20);
      if (!used.has(latent)) { used.add(latent); row.push({ latent, act: 5 * r() }); }
    }
    return row.sort((a, b) => b.act - a.act);
  });
  return {
    bundle: { name: 'b', dir: '/b', layer: 13, dModel: 8, dictSize: 20, baseModel: 'base', chatModel: 'chat', crosscoderKind: 'relu', crosscoderIdentity: 'id' },
    provider: 'cpu', kind: 'plain', tokens, top, latents: emptyRanking(),
    selected: selected.map((latent) => ({ latent, acts: tokens.map(() => (r() < 0.5 ? 0 : 3 * r())) })),
  };
}

test('highlight series: exact vectors when computed, top-k values otherwise; normalisation modes', () => {
  const r = rng(6);
  const result = fakeResult(60, r, [4]);
  const exact = latentSeries(result, 4, { mode: 'text-max', value: 1 }, undefined);
  assert.equal(exact.approximate, false);
  assert.deepEqual(Array.from(exact.acts), result.selected[0].acts.map(Math.fround));
  assert.equal(exact.max, Math.max(...exact.acts));
  const approx = latentSeries(result, 9, { mode: 'text-max', value: 1 }, undefined);
  assert.equal(approx.approximate, true);
  assert.deepEqual(Array.from(approx.acts), result.top.map((row) => Math.fround(row.find((x) => x.latent === 9)?.act ?? 0)));
  assert.deepEqual(topKVector(result, 9), approx.acts);
  const acts = Float32Array.from([0, 1, 3, 2]);
  assert.deepEqual(normalizationMax(acts, { mode: 'number', value: 7 }, 5), { max: 7, source: 'fixed in settings' });
  assert.deepEqual(normalizationMax(acts, { mode: 'stats-max', value: 7 }, 5), { max: 5, source: 'max from statistics' });
  assert.equal(normalizationMax(acts, { mode: 'stats-max', value: 7 }, NaN).max, 3);
  assert.equal(normalizationMax(acts, { mode: 'text-max', value: 7 }, 5).max, 3);
});

test('chat-specificity: robust set when Latent Scaling results exist, else every chat-only latent; sums match', () => {
  const r = rng(7);
  const D = 20;
  const metrics = { dictSize: D, deltaNorm: Float32Array.from({ length: D }, (_, j) => (j < 8 ? 0.95 : 0.5)) } as unknown as LatentMetrics;
  const fallback = chatSpecificLatents(metrics, undefined, DEFAULT_THRESHOLDS);
  assert.deepEqual(fallback.latents, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(fallback.robust, false);
  assert.match(fallback.note, /No Latent Scaling results/);
  const nuError = Float32Array.from({ length: D }, (_, j) => (j % 2 ? 0.5 : 0.05));
  const nuReconstruction = Float32Array.from({ length: D }, (_, j) => (j === 4 ? 0.9 : 0.1));
  const robust = chatSpecificLatents(metrics, { source: 's', nuError, nuReconstruction }, DEFAULT_THRESHOLDS);
  assert.deepEqual(robust.latents, [0, 2, 6]);
  const result = fakeResult(40, r, []);
  const s = chatSpecificitySeries(result, robust, { mode: 'text-max', value: 1 });
  assert.equal(s.approximate, true);
  const expected = result.top.map((row) => row.filter((x) => [0, 2, 6].includes(x.latent)).reduce((a, x) => a + x.act, 0));
  s.acts.forEach((v, t) => assert.ok(Math.abs(v - expected[t]) < 1e-5));
  const withExact = fakeResult(40, r, [0, 2, 6]);
  const e = chatSpecificitySeries(withExact, robust, { mode: 'text-max', value: 1 });
  assert.equal(e.approximate, false);
  e.acts.forEach((v, t) => assert.ok(Math.abs(v - (withExact.selected[0].acts[t] + withExact.selected[1].acts[t] + withExact.selected[2].acts[t])) < 1e-5));
});

test('webview payloads: exact-size buffers, flags, top-k rows padded with -1', () => {
  const big = new Float32Array(100);
  const view = big.subarray(10, 13);
  view.set([1, 2, 3]);
  const buf = toBuffer(view);
  assert.equal(buf.byteLength, 12);
  assert.deepEqual(Array.from(new Float32Array(buf)), [1, 2, 3]);
  const result = fakeResult(30, rng(8), []);
  const doc = tokenDocument(result, 'doc', 3, { metrics: undefined, stats: undefined, label: (j) => `L${j}` }, DEFAULT_THRESHOLDS);
  const flags = new Uint8Array(doc.flags);
  assert.equal(flags[0] & TOKEN_OUTSIDE, TOKEN_OUTSIDE);
  assert.equal(flags[3] & TOKEN_TEMPLATE, TOKEN_TEMPLATE);
  const latents = new Int32Array(doc.topLatents);
  const acts = new Float32Array(doc.topActs);
  assert.equal(latents.length, 30 * doc.topK);
  result.top.forEach((row, t) => {
    for (let k = 0; k < doc.topK; k++) {
      assert.equal(latents[t * doc.topK + k], row[k]?.latent ?? -1);
      assert.equal(acts[t * doc.topK + k], Math.fround(row[k]?.act ?? 0));
    }
  });
  assert.ok(doc.latents.every((b) => b.label === `L${b.latent}` && Number.isNaN(b.deltaNorm)));
  const capped = tokenDocument(result, 'doc', 3, { metrics: undefined, stats: undefined, label: () => '' }, DEFAULT_THRESHOLDS, 10);
  assert.equal(capped.texts.length, 10);
  assert.equal(new Int32Array(capped.ids).length, 10);
  assert.equal(capped.title, 'doc (first 10 of 30 tokens)');
  assert.deepEqual(capped.latents.map((b) => b.latent), [...new Set(result.top.slice(0, 10).flatMap((row) => row.slice(0, capped.topK).map((x) => x.latent)))].sort((a, b) => a - b));
});

test('the standalone export embeds data that cannot close its script element', () => {
  const nasty = { texts: ['</script><script>alert(1)</script>', '<!--', '\u2028', '</SCRIPT >'] };
  const json = scriptSafeJson(nasty);
  assert.ok(!json.includes('<'));
  assert.deepEqual(JSON.parse(json), nasty);
  const html = standaloneTokenHtml({ title: '</title><b>x', note: '', texts: nasty.texts, ids: [1, 2, 3, 4], flags: [0, 0, 0, 0], series: [] }, 'console.log("</script>")', 'body{}</style>');
  assert.equal(html.match(/<\/script>/gi)?.length, 3, 'only the data, string-table and code elements close');
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;/);
  assert.ok(!html.includes('</title><b>'));
});
