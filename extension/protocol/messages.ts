/**
 * The messages exchanged between the extension host and the three webviews, one union per direction per
 * view. Everything is structured-clone data. Large numeric arrays travel as ArrayBuffers (TypedArrays do not
 * survive the webview boundary; ArrayBuffers do), described by a comment naming the element type.
 *
 * Webview -> host messages are untrusted: the host runs them through validate.ts before use.
 *
 * Each view talks over an engine/channel Channel: these unions are its events (a `type` each), and the
 * request types at the end tie a request's params to its reply.
 */
import { requestType } from '../engine/channel/channel';

/** Per-latent facts a webview shows next to a latent id (badges, tooltips). NaN = unknown. */
export interface LatentBrief {
  latent: number;
  /** Paper convention: 1 = chat-only, 0 = base-only. */
  deltaNorm: number;
  nuError: number;
  nuReconstruction: number;
  label: string;
}

/** Settings that change how latents are classified, sent with every table/analysis. */
export interface ClassifyThresholds {
  chatOnlyAbove: number;
  baseOnlyBelow: number;
  sharedHalfWidth: number;
  nuError: number;
  nuReconstruction: number;
  /** How nu meets the thresholds (engine/latents/verdict.ts); default 'signed'. */
  nuSign?: 'signed' | 'absolute';
}

// ---------------------------------------------------------------- token panel

/** Token flags (bit set), one byte per token. */
export const TOKEN_TEMPLATE = 1;
export const TOKEN_SPECIAL = 2;
/** The token is not in the document (e.g. <bos>): it has no editor range. */
export const TOKEN_OUTSIDE = 4;

export interface TokenDocument {
  /** A label for the analysed text (file name, "selection of ..."). */
  title: string;
  bundle: string;
  provider: string;
  kind: 'plain' | 'chat';
  texts: string[];
  /** Int32Array: token ids. */
  ids: ArrayBuffer;
  /** Uint8Array: TOKEN_* flags. */
  flags: ArrayBuffer;
  /** Top latents per token, row-major [tokens x topK]; latent -1 pads rows with fewer entries. */
  topK: number;
  /** Int32Array. */
  topLatents: ArrayBuffer;
  /** Float32Array (scaled activations). */
  topActs: ArrayBuffer;
  /** Every latent that appears in topLatents. */
  latents: LatentBrief[];
  thresholds: ClassifyThresholds;
}

/** One coloured series; the host holds `acts` as a Float32Array and posts its ArrayBuffer. */
export interface HighlightSeries<Acts = ArrayBuffer> {
  /** null for the chat-specificity sum. */
  latent: number | null;
  name: string;
  /** One value per token. */
  acts: Acts;
  /** Normalisation maximum: alpha = act / max, clamped to [0, 1]. */
  max: number;
  /** Where max came from, for the legend ("max in this text", "max from statistics", "fixed"). */
  maxSource: string;
  /** Values are only known where the latent was in a token's top-k (exact vectors not computed yet). */
  approximate: boolean;
}

export interface HighlightState<Acts = ArrayBuffer> {
  mode: 'none' | 'latents' | 'chat-specificity' | 'kl';
  series: HighlightSeries<Acts>[];
  /** A sentence shown above the legend (e.g. the chat-specificity fallback). */
  note: string;
}

/** A latent the user picked in a view: highlight it in the editor, open its page, or steer with it. */
export type HighlightLatentMessage = { type: 'highlightLatent'; latent: number; slot: 0 | 1 };
export type OpenLatentMessage = { type: 'openLatent'; latent: number };
export type SteerLatentMessage = { type: 'steerLatent'; latent: number };
export type LatentAction = HighlightLatentMessage | OpenLatentMessage | SteerLatentMessage;

export type HostToTokens =
  | { type: 'document'; doc: TokenDocument | null; highlight: HighlightState }
  | { type: 'highlight'; highlight: HighlightState }
  | { type: 'labels'; latents: LatentBrief[] };

export type TokensToHost =
  | { type: 'ready' }
  | HighlightLatentMessage
  | { type: 'clearHighlight' }
  | OpenLatentMessage
  | { type: 'revealToken'; index: number }
  | { type: 'exportHtml' }
  | SteerLatentMessage;

// ---------------------------------------------------------------- latents sidebar

/** Per-latent columns, each an ArrayBuffer of `dictSize` elements (Float32 unless noted); NaN = unknown. */
export interface LatentTable {
  dictSize: number;
  bundle: string;
  deltaNorm: ArrayBuffer;
  decCos: ArrayBuffer;
  /** Present once Latent Scaling results exist. */
  nuError?: ArrayBuffer;
  nuReconstruction?: ArrayBuffer;
  /** Present once dataset statistics exist. */
  freq?: ArrayBuffer;
  maxAct?: ArrayBuffer;
  thresholds: ClassifyThresholds;
}

export interface DocumentActivity {
  title: string;
  /** Uint32Array: latents active in the analysed text. */
  latents: ArrayBuffer;
  /** Float32Array: their max activation in it. */
  maxes: ArrayBuffer;
}

export type HostToLatents =
  | { type: 'table'; table: LatentTable | null; message: string }
  | { type: 'activity'; activity: DocumentActivity | null }
  | { type: 'labels'; labels: [number, string][] }
  | { type: 'highlighted'; latents: number[] };

export type LatentsToHost =
  | { type: 'ready' }
  | HighlightLatentMessage
  | OpenLatentMessage
  | { type: 'rowCount'; shown: number; total: number }
  /** Steered generation with these latents and strengths (a row's steer button, or the highlighted latents). */
  | { type: 'steerLatents'; steer: SteerEntry[] };

/** One latent to steer with: strength x max activation x its chat decoder direction (method.md section 9). */
export interface SteerEntry {
  latent: number;
  strength: number;
}

// ---------------------------------------------------------------- latent page

export type AnnotationStatus = 'hypothesis' | 'confirmed' | 'rejected';
export const ANNOTATION_STATUSES: readonly AnnotationStatus[] = ['hypothesis', 'confirmed', 'rejected'];

export interface EvidenceView {
  file: string;
  line: number;
  character: number;
  endLine: number;
  endCharacter: number;
  activation: number;
  text?: string;
}

export interface AnnotationView {
  label: string;
  notes: string;
  status: AnnotationStatus;
  evidence: EvidenceView[];
}

/** A run of tokens with one latent's activation on each (document excerpt or dataset example). */
export interface TokenStrip {
  texts: string[];
  /** Float32Array, one per token. */
  acts: ArrayBuffer;
  /** Token index the strip is centred on (argmax), or -1. */
  focus: number;
  /** Token index in the analysed text of texts[0] (document strips), for reveal. */
  offset: number;
}

export interface ExampleSection {
  name: string;
  examples: { maxAct: number; strip: TokenStrip }[];
}

export type ExamplesView =
  | { status: 'none'; message: string }
  | { status: 'ok'; source: string; sections: ExampleSection[] };

export interface LatentDetail {
  latent: number;
  dictSize: number;
  bundle: string;
  numbers: {
    deltaNorm: number;
    decNormBase: number;
    decNormChat: number;
    decCos: number;
    encNormBase: number;
    encNormChat: number;
    encCos: number;
    scale: number;
    /** Latent Scaling and dataset statistics; NaN when unknown. */
    betaErrorBase: number;
    betaErrorChat: number;
    betaReconstructionBase: number;
    betaReconstructionChat: number;
    nuError: number;
    nuReconstruction: number;
    freq: number;
    maxAct: number;
  };
  thresholds: ClassifyThresholds;
  /** The latent's activation across the analysed text (null when nothing has been analysed). */
  document: { title: string; strip: TokenStrip; max: number; approximate: boolean } | null;
  examples: ExamplesView;
  annotation: AnnotationView | null;
  /** Why annotations cannot be saved right now (no workspace, malformed file), or ''. */
  annotationProblem: string;
}

/** A latent's decoder vectors through each model's unembedding: top promoted / suppressed tokens. */
export interface LogitEffectsView {
  latent: number;
  /** Says that these are direct-path effects (no final norm, no soft-capping). */
  convention: string;
  base: { promoted: { text: string; logit: number }[]; suppressed: { text: string; logit: number }[] };
  chat: { promoted: { text: string; logit: number }[]; suppressed: { text: string; logit: number }[] };
}

export type HostToLatent =
  | { type: 'latent'; detail: LatentDetail | null; message: string }
  | { type: 'logitEffects'; latent: number; effects: LogitEffectsView | null; message: string };

export type LatentToHost =
  | { type: 'ready' }
  | HighlightLatentMessage
  | { type: 'revealToken'; index: number }
  | { type: 'openEvidence'; index: number }
  | SteerLatentMessage;

// ---------------------------------------------------------------- generation panel

/** One model's answer in the generation panel (default or steered), coloured like analysed text. */
export interface GenerationColumn {
  model: 'chat' | 'base';
  /** '' for the default answer, else the steering, e.g. "steered: #12 × 1 (all tokens)". */
  steer: string;
  texts: string[];
  /** Int32Array: token ids. */
  ids: ArrayBuffer;
  /** Float32Array: the generating model's log-probability of each token. */
  logProbs: ArrayBuffer;
  /** Top latents per token, row-major [tokens x topK]; latent -1 pads. */
  topK: number;
  /** Int32Array. */
  topLatents: ArrayBuffer;
  /** Float32Array (scaled activations). */
  topActs: ArrayBuffer;
  /** 'running' until the answer ends; then why it ended. */
  status: 'running' | 'end-of-turn' | 'eos' | 'max-new' | 'cancelled' | 'failed';
  tokensPerSecond: number;
  /** The session's highlight over this answer's tokens. */
  highlight: HighlightState;
}

export interface GenerationView {
  /** Changes with every new generation; messages about an older one are ignored. */
  run: number;
  title: string;
  /** "greedy · 64 new tokens at most · seed 0" */
  settings: string;
  promptTokens: number;
  state: 'running' | 'done' | 'cancelled' | 'failed';
  error: string;
  /** What "insert" does: "Insert as model turn" (a chat) or "Insert continuation" (a text). */
  insertLabel: string;
  columns: GenerationColumn[];
  latents: LatentBrief[];
  thresholds: ClassifyThresholds;
}

export type HostToGeneration =
  | { type: 'generation'; view: GenerationView | null }
  | { type: 'labels'; latents: LatentBrief[] };

export type GenerationToHost =
  | { type: 'ready' }
  | { type: 'cancel'; run: number }
  | { type: 'insert'; run: number; column: number }
  | HighlightLatentMessage
  | OpenLatentMessage
  | SteerLatentMessage;

// ---------------------------------------------------------------- requests (engine/channel)

/** Only the fields the user changed (at least one): the host merges them into the record on disk. */
export interface SaveAnnotationParams {
  latent: number;
  label?: string;
  notes?: string;
  status?: AnnotationStatus;
}

/** The latent page's annotation editor; the host answers once the annotation is stored. */
export const SaveAnnotation = requestType<SaveAnnotationParams, { saved: true }>('saveAnnotation');

/** Persisted webview state (getState/setState), also what the panel serializers restore from. */
export interface LatentPageState {
  latent: number;
}

/** What an exported standalone token view embeds (plain JSON: no ArrayBuffers in a file). */
export interface TokenExportData {
  title: string;
  note: string;
  texts: string[];
  ids: number[];
  flags: number[];
  series: { name: string; acts: number[]; max: number; maxSource: string; hue: 'first' | 'second' | 'chat' }[];
}
