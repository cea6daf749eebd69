/**
 * The inference worker: the one thread that owns every ONNX Runtime session (their run() and creation are
 * synchronous native work). Requests run one at a time in arrival order; cancelling a request aborts its
 * signal, and it stops at its next checkpoint (between stages, windows and chunks) or before it starts.
 */
import { parentPort } from 'node:worker_threads';
import { Analyzer } from '../analysis/analyzer';
import { loadLatentStats } from '../analysis/latent-stats';
import { bundleLogitEffects, documentDivergence } from '../analysis/patching/document-divergence';
import { runKl, type KlParts } from '../analysis/patching/kl-job';
import { CancelledError, Channel, type RequestContext, type RequestType } from '../channel/channel';
import { threadTransport } from '../channel/thread-transport';
import type { ProviderInUse } from '../types';
import { expectedProvider } from '../runtime/providers';
import { SentAnalyses } from './analysis-delta';
import { InferenceRequests as R, type InferenceEvent } from './protocol';

type Context = RequestContext<InferenceEvent>;
type Progress = (stage: string, message: string, fraction?: number) => void;

const channel = new Channel<InferenceEvent, never>(threadTransport(parentPort!));
let analyzer: Analyzer | undefined;
const sent = new SentAnalyses();
let chain: Promise<unknown> = Promise.resolve();

function checkpointFor(context: Context): () => Promise<void> {
  return async () => {
    await new Promise((r) => setImmediate(r));
    if (context.signal.aborted) throw new CancelledError(`request ${context.id} cancelled`);
  };
}

const progressOf = (context: Context): Progress => (stage, message, fraction) => context.emit({ type: 'progress', stage, message, fraction });

/** Serves `type` one request at a time, in arrival order with every other request. */
function serve<P, T>(type: RequestType<P, T>, run: (params: P, context: Context, checkpoint: () => Promise<void>) => T | Promise<T>): void {
  channel.handle(type, (params, context) => {
    const checkpoint = checkpointFor(context);
    const result = chain.then(async () => {
      await checkpoint();
      return run(params, context, checkpoint);
    });
    chain = result.catch(() => undefined);
    return result;
  });
}

function requireAnalyzer(): Analyzer {
  if (!analyzer) throw new Error('no bundle is open in the inference worker');
  return analyzer;
}

/** The open bundle's models, loaded on first use (the causal requests need both halves). */
async function causalParts(progress: Progress): Promise<KlParts> {
  const a = requireAnalyzer();
  return { bundle: a.bundle, ...(await a.load(progress)) };
}

serve(R.open, async ({ dir, options }) => {
  const next = Analyzer.open(dir, options);
  await analyzer?.dispose();
  analyzer = next;
  const provider: ProviderInUse = next.provider ?? expectedProvider(options.provider);
  return { info: next.info, provider, providerNote: next.providerNote, adapter: next.adapter };
});
serve(R.analyze, async ({ text, request, holds }, context, checkpoint) => sent.reply(await requireAnalyzer().analyze(text, request, checkpoint, progressOf(context)), holds));
serve(R.generate, ({ text, request }, context, checkpoint) =>
  requireAnalyzer().generate(text, request, (event) => context.emit({ type: 'token', event }), checkpoint, progressOf(context)));
serve(R.metrics, () => requireAnalyzer().metrics());
serve(R.examples, ({ file, latent, perQuantile }) => requireAnalyzer().examples(file, latent, perQuantile));
serve(R.latentStats, ({ file, dictSize }) => loadLatentStats(file, dictSize));
serve(R.kl, async ({ text, name, request }, context, checkpoint) =>
  runKl(await causalParts(progressOf(context)), { text, name }, request, {
    checkpoint,
    progress: (documents, tokens) => progressOf(context)('kl', `${documents} chat${documents === 1 ? '' : 's'}, ${tokens} tokens scored`),
  }));
serve(R.divergence, async ({ text, request }, context, checkpoint) => documentDivergence(await causalParts(progressOf(context)), text, request, checkpoint));
serve(R.logitEffects, async ({ latent, k }, context) => bundleLogitEffects(await causalParts(progressOf(context)), latent, k));
serve(R.tokenTexts, ({ ids }) => {
  const tok = requireAnalyzer().tokenizer();
  return { texts: ids.map((id) => tok.decode([id])) };
});
