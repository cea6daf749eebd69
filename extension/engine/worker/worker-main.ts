/**
 * The inference worker: the one thread that owns every ONNX Runtime session (their run() and creation are
 * synchronous native work). Requests run one at a time in arrival order; a cancel message marks a request,
 * which stops at its next checkpoint (between stages, windows and chunks) or before it starts.
 */
import { parentPort } from 'node:worker_threads';
import { Analyzer } from '../analysis/analyzer';
import { loadLatentStats } from '../analysis/latent-stats';
import { toErrorInfo } from '../errors';
import type { ProviderInUse } from '../types';
import { expectedProvider } from './providers';
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
    case 'metrics':
      return requireAnalyzer().metrics();
    case 'examples':
      return requireAnalyzer().examples(msg.file, msg.latent, msg.perQuantile);
    case 'latentStats':
      return loadLatentStats(msg.file, msg.dictSize);
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
