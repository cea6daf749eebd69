/**
 * The typed request/reply channel (extension/engine/channel): round trips over an in-memory transport pair
 * and over a real worker_threads Worker; errors keep their ErrorInfo (a LatentDiffError arrives as one);
 * cancelling a request aborts the handler's signal; request-scoped events carry the request id and reach
 * only that request's listener; unknown methods and rejected (unvalidated) messages are answered with an
 * error; replies for unknown ids are ignored. The `@ts-expect-error` lines check the typing: `npm test`
 * typechecks this file, and each line fails to compile without its directive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { CancelledError, Channel, requestType, type Transport } from '../../extension/engine/channel/channel';
import { startWorkerChannel } from '../../extension/engine/channel/thread-transport';
import { LatentDiffError } from '../../extension/engine/errors';
import { Echo, Exit, Fail, Stream, UntilCancelled, serveTestRequests, type WorkerEvent } from '../support/channel-requests';

type TestTransport = Transport & { sent: unknown[]; inject(m: unknown): void };

/** Two connected transports; each message is structured-cloned and delivered on a later microtask. */
function transportPair(): [TestTransport, TestTransport] {
  const receivers: Array<((m: unknown) => void) | undefined> = [undefined, undefined];
  const end = (self: number) => {
    const sent: unknown[] = [];
    return {
      sent,
      post(m: unknown) {
        sent.push(m);
        const copy = structuredClone(m);
        queueMicrotask(() => receivers[1 - self]?.(copy));
      },
      listen(receive: (m: unknown) => void) {
        receivers[self] = receive;
        return () => { receivers[self] = undefined; };
      },
      inject: (m: unknown) => receivers[self]?.(m),
    };
  };
  return [end(0), end(1)];
}

type ClientEvent = { type: 'ping'; n: number };

/** A client and a server channel over an in-memory pair; the server serves channel-requests.ts. */
function connectedPair() {
  const [ta, tb] = transportPair();
  const client = new Channel<ClientEvent, WorkerEvent>(ta);
  const server = new Channel<WorkerEvent, ClientEvent>(tb);
  serveTestRequests(server);
  return { client, server, clientWire: ta, serverWire: tb };
}

test('a typed request round-trips over an in-memory pair, and the types tie params to the reply', async () => {
  const { client, server } = connectedPair();
  const reply = await client.request(Echo, { text: 'héllo' });
  assert.deepEqual(reply, { echoed: 'HÉLLO', length: 5 });
  const length: number = reply.length;
  assert.equal(length, 5);
  if (process.env.NEVER_SET_CHANNEL_TYPING) {
    // @ts-expect-error the reply of Echo is not a string
    const wrong: string = await client.request(Echo, { text: 'x' });
    // @ts-expect-error Echo's params need `text`
    await client.request(Echo, { txt: 'x' });
    // @ts-expect-error a handler of Echo must return Echo's reply type
    server.handle(Echo, () => 42);
    // @ts-expect-error the client sends ClientEvent, not WorkerEvent
    client.post({ type: 'waiting' });
    void wrong;
  }
  assert.throws(() => server.handle(Echo, () => ({ echoed: '', length: 0 })), /already registered/);
});

test('a LatentDiffError thrown by a handler arrives as a LatentDiffError with its file and code', async () => {
  const { client, server } = connectedPair();
  await assert.rejects(client.request(Fail, { file: '/data/x.jsonl', problem: 'line 3 is not JSON', code: 'bad-record' }), (e: unknown) =>
    e instanceof LatentDiffError && e.file === '/data/x.jsonl' && e.problem === 'line 3 is not JSON' && e.code === 'bad-record' && e.message === '/data/x.jsonl: line 3 is not JSON');
  const Boom = requestType<Record<string, never>, number>('boom');
  server.handle(Boom, () => { throw new TypeError('boom'); });
  await assert.rejects(client.request(Boom, {}), (e: unknown) => e instanceof Error && !(e instanceof LatentDiffError) && e.message === 'boom');
});

test('cancelling a request aborts the handler\'s signal; the request settles with the handler\'s answer', async () => {
  const { client, clientWire } = connectedPair();
  const controller = new AbortController();
  const run = client.request(UntilCancelled, { steps: 0 }, { signal: controller.signal, onEvent: (e) => { if (e.type === 'waiting') controller.abort(); } });
  await assert.rejects(run, (e: unknown) => e instanceof CancelledError && e.message === 'stopped at the cancel', 'the handler rejects only when its signal aborts');
  const request = clientWire.sent.find((m) => (m as { type: string }).type === 'request') as { id: number };
  assert.deepEqual(clientWire.sent.filter((m) => (m as { type: string }).type === 'cancelRequest'), [{ type: 'cancelRequest', id: request.id }]);
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(client.request(UntilCancelled, { steps: 0 }, { signal: pre.signal }), CancelledError);
  assert.equal(clientWire.sent.filter((m) => (m as { type: string }).type === 'request').length, 1, 'an already aborted request is not sent');
});

test('request events carry their request id and reach only that request\'s listener', async () => {
  const { client, server, serverWire } = connectedPair();
  const unscoped: WorkerEvent[] = [];
  client.onEvent((e) => unscoped.push(e));
  const seen: Record<string, WorkerEvent[]> = { a: [], b: [] };
  const [ra, rb] = await Promise.all([
    client.request(Stream, { tag: 'a', count: 3 }, { onEvent: (e) => seen.a.push(e) }),
    client.request(Stream, { tag: 'b', count: 2 }, { onEvent: (e) => seen.b.push(e) }),
  ]);
  assert.equal(ra, 3);
  assert.equal(rb, 2);
  assert.deepEqual(seen.a, [0, 1, 2].map((i) => ({ type: 'item', tag: 'a', i })));
  assert.deepEqual(seen.b, [0, 1].map((i) => ({ type: 'item', tag: 'b', i })));
  assert.deepEqual(unscoped, []);
  const ids = new Map<string, number>();
  for (const m of serverWire.sent as Array<{ type: string; id: number; tag?: string }>) {
    if (m.type !== 'item') continue;
    assert.equal(typeof m.id, 'number');
    if (ids.has(m.tag!)) assert.equal(ids.get(m.tag!), m.id);
    ids.set(m.tag!, m.id);
  }
  assert.notEqual(ids.get('a'), ids.get('b'));
  server.post({ type: 'waiting' });
  await client.request(Stream, { tag: 'c', count: 0 });
  assert.deepEqual(unscoped, [{ type: 'waiting' }], 'an event of no request goes to onEvent listeners');
});

test('an unknown method is answered with an error; a reply for an unknown id is ignored', async () => {
  const { client, clientWire } = connectedPair();
  const Missing = requestType<{ x: number }, number>('missing');
  await assert.rejects(client.request(Missing, { x: 1 }), /no handler for request "missing"/);
  const pending = client.request(Stream, { tag: 'late', count: 0 });
  const id = (clientWire.sent.at(-1) as { id: number }).id;
  clientWire.inject({ type: 'reply', id: id + 100, ok: true, result: 'stray' });
  clientWire.inject({ type: 'reply', id: id - 1, ok: true, result: 'settled already' });
  assert.equal(await pending, 0);
});

test('a reply or request that is not structured-clone data fails as an error instead of hanging', async () => {
  const { client, server } = connectedPair();
  const Uncloneable = requestType<Record<string, never>, () => void>('uncloneable');
  server.handle(Uncloneable, () => () => undefined);
  await assert.rejects(client.request(Uncloneable, {}), /could not be cloned/);
  await assert.rejects(client.request(Echo, { text: 'x', extra: () => undefined } as unknown as { text: string }), /could not be cloned/);
  assert.deepEqual(await client.request(Echo, { text: 'ok' }), { echoed: 'OK', length: 2 });
});

test('accept() validates every incoming message: a rejected request is answered with the error and no handler runs', async () => {
  const [ta, tb] = transportPair();
  const client = new Channel<ClientEvent, WorkerEvent>(ta);
  const rejected: string[] = [];
  const heard: ClientEvent[] = [];
  let handled = 0;
  const server = new Channel<WorkerEvent, ClientEvent>(tb, {
    accept: (raw) => {
      const m = raw as { type: string; text?: unknown; n?: unknown };
      if (m.type === 'request' && typeof m.text !== 'string') throw new Error('message.text must be a string');
      if (m.type === 'ping' && typeof m.n !== 'number') throw new Error('message.n must be a number');
      return raw;
    },
    onRejected: (e) => rejected.push(e.message),
  });
  server.onEvent((e) => heard.push(e));
  server.handle(Echo, ({ text }) => { handled++; return { echoed: text, length: text.length }; });
  await assert.rejects(client.request(Echo, { text: 7 as unknown as string }), /message.text must be a string/);
  tb.inject({ type: 'ping', n: 'x' });
  client.post({ type: 'ping', n: 1 });
  assert.deepEqual(await client.request(Echo, { text: 'ok' }), { echoed: 'ok', length: 2 });
  assert.equal(handled, 1);
  assert.deepEqual(heard, [{ type: 'ping', n: 1 }]);
  assert.deepEqual(rejected, ['message.text must be a string', 'message.n must be a number']);
});

test('closing a channel rejects its pending requests with the reason and aborts running handlers', async () => {
  const [ta, tb] = transportPair();
  const client = new Channel<ClientEvent, WorkerEvent>(ta);
  const server = new Channel<WorkerEvent, ClientEvent>(tb);
  let handlerSignal: AbortSignal | undefined;
  server.handle(UntilCancelled, (_p, { signal, emit }) => new Promise<never>(() => { handlerSignal = signal; emit({ type: 'waiting' }); }));
  let started!: () => void;
  const waiting = new Promise<void>((r) => (started = r));
  const run = client.request(UntilCancelled, { steps: 0 }, { onEvent: () => started() });
  await waiting;
  client.close(new Error('the peer went away'));
  await assert.rejects(run, /the peer went away/);
  await assert.rejects(client.request(Echo, { text: 'x' }), /the peer went away/);
  server.close();
  assert.equal(handlerSignal?.aborted, true);
});

/** The worker script, bundled like dist/worker.js (the test runner's TypeScript loader does not reach worker threads). */
function bundledWorker(): string {
  const outfile = join(mkdtempSync(join(tmpdir(), 'ld-channel-')), 'channel-worker.js');
  buildSync({ entryPoints: [join(__dirname, '../support/channel-worker.ts')], bundle: true, platform: 'node', format: 'cjs', outfile, logLevel: 'warning' });
  return outfile;
}

test('over a real worker thread: replies, errors, events by request, cancel, and the thread dying', async () => {
  const { worker, channel } = startWorkerChannel<never, WorkerEvent>(bundledWorker(), 'test worker');
  try {
    const unscoped: WorkerEvent[] = [];
    channel.onEvent((e) => unscoped.push(e));
    assert.deepEqual(await channel.request(Echo, { text: 'abc' }), { echoed: 'ABC', length: 3 });
    assert.deepEqual(unscoped, [{ type: 'hello', from: 'worker' }], 'the event the worker posted before answering arrived first');
    await assert.rejects(channel.request(Fail, { file: 'f.json', problem: 'bad', code: 'invalid-input' }), (e: unknown) => e instanceof LatentDiffError && e.file === 'f.json' && e.code === 'invalid-input');
    const items: WorkerEvent[] = [];
    const steps: WorkerEvent[] = [];
    const controller = new AbortController();
    const [count, cancelled] = await Promise.allSettled([
      channel.request(Stream, { tag: 't', count: 4 }, { onEvent: (e) => items.push(e) }),
      channel.request(UntilCancelled, { steps: 2 }, { signal: controller.signal, onEvent: (e) => { steps.push(e); if (e.type === 'waiting') controller.abort(); } }),
    ]);
    assert.deepEqual(count, { status: 'fulfilled', value: 4 });
    assert.equal(cancelled.status, 'rejected');
    assert.ok((cancelled as PromiseRejectedResult).reason instanceof CancelledError);
    assert.deepEqual(items, [0, 1, 2, 3].map((i) => ({ type: 'item', tag: 't', i })));
    assert.deepEqual(steps, [{ type: 'step', n: 0 }, { type: 'step', n: 1 }, { type: 'waiting' }]);
    assert.equal(unscoped.length, 1, 'request events never reach onEvent listeners');
    await assert.rejects(channel.request(Exit, { code: 3 }), /the test worker exited \(code 3\)/);
    await assert.rejects(channel.request(Echo, { text: 'x' }), /the test worker exited/);
  } finally {
    await worker.terminate();
  }
});
