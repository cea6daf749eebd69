/**
 * The ground truth the editor decorations are compared with: the engine (shared code) run in the test
 * process on the same text, through the same worker the extension uses.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceClient } from '../../extension/engine/worker/client';
import { ROOT } from './session';

/** [startLine, startCharacter, endLine, endCharacter], zero-based like VS Code positions. */
export type RangeTuple = [number, number, number, number];

export interface GroundTruthLatent {
  role: string;
  concept: string;
}

export function groundTruth(): Record<string, GroundTruthLatent> {
  return (JSON.parse(readFileSync(join(ROOT, 'models', 'demo', 'ground-truth.json'), 'utf8')) as { latents: Record<string, GroundTruthLatent> }).latents;
}

/** The planted latent with this role and concept (e.g. robust-chat-only / model-turn). */
export function plantedLatent(role: string, concept: string): number {
  const hit = Object.entries(groundTruth()).find(([, g]) => g.role === role && g.concept === concept);
  if (!hit) throw new Error(`ground-truth.json has no ${role} latent for ${concept}`);
  return Number(hit[0]);
}

/** A VS Code position for a UTF-16 offset (lines end at \n; a \r before it belongs to the line break). */
export function positionAt(text: string, offset: number): [number, number] {
  let line = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  const character = offset - lineStart;
  const lineEnd = text.indexOf('\n', lineStart);
  if (lineEnd !== -1 && text[lineEnd - 1] === '\r' && offset === lineEnd) return [line, character - 1];
  return [line, character];
}

/** Ranges of the tokens of `text` where `latent` fires (scaled activation > 0), in document order. */
export async function firingRanges(text: string, latent: number): Promise<RangeTuple[]> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'latent-diff-e2e-engine-'));
  const client = new InferenceClient({ workerScript: join(ROOT, 'dist', 'worker.js'), provider: 'cpu', cacheDir });
  try {
    await client.openBundle(join(ROOT, 'models', 'demo'));
    const result = await client.analyze(text, { latents: [latent] });
    const acts = result.selected.find((s) => s.latent === latent)!.acts;
    const out: RangeTuple[] = [];
    result.tokens.forEach((t, i) => {
      if (t.start === null || t.end === null || t.end <= t.start || !(acts[i] > 0)) return;
      out.push([...positionAt(text, t.start), ...positionAt(text, t.end)]);
    });
    return out;
  } finally {
    client.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

export function sortRanges(ranges: RangeTuple[]): RangeTuple[] {
  return [...ranges].sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3]);
}
