/**
 * The inference worker: the one thread that owns every ONNX Runtime session (their run() and creation are
 * synchronous native work). Requests run one at a time in arrival order; a cancel message marks a request,
 * which stops at its next checkpoint (between stages, windows and chunks) or before it starts.
 */
import { parentPort } from 'node:worker_threads';
import { Analyzer } from '../analysis/analyzer';
import { loadLatentStats } from '../analysis/latent-stats';
import { bundleLogitEffects, documentDivergence } from '../analysis/patching/document-divergence';
import { runKl, type KlParts } from '../analysis/patching/kl-job';
import { toErrorInfo } from '../errors';
import type { ProviderInUse } from '../types';
import { expectedProvider } from '../runtime/providers';
import type { FromWorker, ToWorker, WorkerReply } from './protocol';

class Cancelled extends Error {}

const port = parentPort!;
const cancelled = new Set<number>();
let analyzer: Analyzer | undefined;
let chain: Promise<void> = Promise.resolve();

const post = (m: FromWorker) => port.postMessage(m);

function checkpointFor(id: number): () => Promise<void> {
  return async () => {
    await new Promise((r) => setImmediate(r));
    if (cancelled.has(id)) throw new Cancelled(`request ${id} cancelled`);
  };
}

function requireAnalyzer(): Analyzer {
  if (!analyzer) throw new Error('no bundle is open in the inference worker');
  return analyzer;
}

/** The open bundle's models, loaded on first use (the causal requests need both halves). */
async function causalParts(progress: (stage: string, message: string, fraction?: number) => void): Promise<KlParts> {
  const a = requireAnalyzer();
  return { bundle: a.bundle, ...(await a.load(progress)) };
}

async function handle(msg: Exclude<ToWorker, { type: 'cancel' }>): Promise<WorkerReply> {
  const checkpoint = checkpointFor(msg.id);
  const progress = (stage: string, message: string, fraction?: number) => post({ id: msg.id, type: 'progress', stage, message, fraction });
  await checkpoint();
  switch (msg.type) {
    case 'open': {
      const next = Analyzer.open(msg.dir, msg.options);
      await analyzer?.dispose();
      analyzer = next;
      const provider: ProviderInUse = next.provider ?? expectedProvider(msg.options.provider);
      return { info: next.info, provider, providerNote: next.providerNote, adapter: next.adapter };
    }
    case 'analyze':
      return requireAnalyzer().analyze(msg.text, msg.request, checkpoint, progress);
    case 'generate':
      return requireAnalyzer().generate(msg.text, msg.request, (event) => post({ id: msg.id, type: 'token', event }), checkpoint, progress);
    case 'metrics':
      return requireAnalyzer().metrics();
    case 'examples':
      return requireAnalyzer().examples(msg.file, msg.latent, msg.perQuantile);
    case 'latentStats':
      return loadLatentStats(msg.file, msg.dictSize);
    case 'kl':
      return runKl(await causalParts(progress), { text: msg.text, name: msg.name }, msg.request, {
        checkpoint,
        progress: (documents, tokens) => progress('kl', `${documents} chat${documents === 1 ? '' : 's'}, ${tokens} tokens scored`),
      });
    case 'divergence':
      return documentDivergence(await causalParts(progress), msg.text, msg.request, checkpoint);
    case 'logitEffects':
      return bundleLogitEffects(await causalParts(progress), msg.latent, msg.k);
    case 'tokenTexts': {
      const tok = requireAnalyzer().tokenizer();
      return { texts: msg.ids.map((id) => tok.decode([id])) };
    }
  }
}

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'cancel') {
    cancelled.add(msg.target);
    return;
  }
  chain = chain.then(async () => {
    try {
      post({ id: msg.id, type: 'done', value: await handle(msg) });
    } catch (e) {
      post({ id: msg.id, type: 'failed', error: toErrorInfo(e), cancelled: e instanceof Cancelled });
    } finally {
      cancelled.delete(msg.id);
    }
  });
});
