/** Builds the latent page's data from what the host knows about one latent. No vscode import. */
import type { Annotation } from '../engine/annotations/types';
import type { BundleInfo, LatentMetrics } from '../engine/types';
import type { AnnotationView, ClassifyThresholds, ExamplesView, LatentDetail } from '../protocol/messages';
import { exactVector, maxOf, topKVector, type LatentStats } from '../presentation/highlight-series';
import type { CurrentAnalysis } from './session';
import { toBuffer } from '../presentation/webview-payloads';

/** Tokens of the analysed text shown either side of the latent's strongest token. */
export const DOCUMENT_WINDOW = 60;

export interface LatentDetailInput {
  latent: number;
  bundle: BundleInfo;
  metrics: LatentMetrics | undefined;
  stats: LatentStats | undefined;
  analysis: CurrentAnalysis | undefined;
  annotation: Annotation | undefined;
  annotationProblem: string;
  examples: ExamplesView;
  thresholds: ClassifyThresholds;
}

export function annotationView(a: Annotation | undefined): AnnotationView | null {
  if (!a) return null;
  return {
    label: a.label, notes: a.notes, status: a.status,
    evidence: a.evidence.map((e) => ({
      file: e.file, line: e.range.start.line, character: e.range.start.character,
      endLine: e.range.end.line, endCharacter: e.range.end.character, activation: e.activation, ...(e.text !== undefined ? { text: e.text } : {}),
    })),
  };
}

export function latentDetail(i: LatentDetailInput): LatentDetail {
  const j = i.latent;
  const m = i.metrics;
  const s = i.stats;
  const at = (a: Float32Array | undefined) => (a ? a[j] : NaN);
  let document: LatentDetail['document'] = null;
  if (i.analysis) {
    const result = i.analysis.result;
    const exact = exactVector(result, j);
    const acts = exact ?? topKVector(result, j);
    let arg = 0;
    for (let t = 1; t < acts.length; t++) if (acts[t] > acts[arg]) arg = t;
    const from = Math.max(0, arg - DOCUMENT_WINDOW);
    const to = Math.min(acts.length, arg + DOCUMENT_WINDOW + 1);
    document = {
      title: i.analysis.title,
      strip: { texts: result.tokens.slice(from, to).map((t) => t.text), acts: toBuffer(acts.subarray(from, to)), focus: arg - from, offset: from },
      max: maxOf(acts),
      approximate: !exact,
    };
  }
  return {
    latent: j, dictSize: i.bundle.dictSize, bundle: i.bundle.name,
    numbers: {
      deltaNorm: at(m?.deltaNorm), decNormBase: at(m?.decNormBase), decNormChat: at(m?.decNormChat), decCos: at(m?.decCos),
      encNormBase: at(m?.encNormBase), encNormChat: at(m?.encNormChat), encCos: at(m?.encCos), scale: at(m?.scale),
      betaErrorBase: at(s?.betaErrorBase), betaErrorChat: at(s?.betaErrorChat),
      betaReconstructionBase: at(s?.betaReconstructionBase), betaReconstructionChat: at(s?.betaReconstructionChat),
      nuError: at(s?.nuError), nuReconstruction: at(s?.nuReconstruction), freq: at(s?.freq), maxAct: at(s?.maxAct),
    },
    thresholds: i.thresholds,
    document,
    examples: i.examples,
    annotation: annotationView(i.annotation),
    annotationProblem: i.annotationProblem,
  };
}
