/**
 * Two analyses agree: the same tokens, top latents and per-latent summary, and activations within 1e-5 of the
 * larger of 1 and the largest activation in `b` (float32 sums of the same terms in another order, as a fresh
 * run and an incremental one add them, differ in proportion to the terms' size, not to the result's).
 */
import assert from 'node:assert/strict';
import type { AnalysisResult } from '../../extension/engine/types';

export function assertSameAnalysis(a: AnalysisResult, b: AnalysisResult, what: string): void {
  assert.deepEqual(a.tokens, b.tokens, what);
  const scale = Math.max(1, ...Array.from(b.latents.max, Math.abs), ...b.selected.flatMap((s) => s.acts.map(Math.abs)));
  const close = (x: number, y: number, where: string) => assert.ok(Math.abs(x - y) <= 1e-5 * scale, `${what}: ${where}: ${x} vs ${y} (scale ${scale})`);
  a.top.forEach((row, t) => {
    assert.deepEqual(row.map((r) => r.latent), b.top[t].map((r) => r.latent), `${what}: top latents at token ${t}`);
    row.forEach((r, k) => close(r.act, b.top[t][k].act, `token ${t} rank ${k}`));
  });
  assert.deepEqual([a.latents.latent, a.latents.count, a.latents.argmaxToken], [b.latents.latent, b.latents.count, b.latents.argmaxToken], `${what}: latent summary`);
  a.latents.max.forEach((m, i) => close(m, b.latents.max[i], `max of latent ${a.latents.latent[i]}`));
  a.selected.forEach((s, i) => s.acts.forEach((v, t) => close(v, b.selected[i].acts[t], `latent ${s.latent} at ${t}`)));
}
