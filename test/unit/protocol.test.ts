/**
 * The webview -> host protocol validator: every well-formed message of each view passes unchanged (a
 * saveAnnotation patch with any non-empty subset of label, notes, status); wrong shapes, unknown types,
 * extra fields, empty patches, out-of-range indices and prototype tricks are rejected with a ProtocolError
 * naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError, parseLatentMessage, parseLatentsMessage, parseTokensMessage, type MessageLimits } from '../../extension/protocol/validate';

const limits: MessageLimits = { dictSize: 512, tokens: 31, evidence: 2 };

function rejects(parse: (v: unknown, l: MessageLimits) => unknown, message: unknown, field: RegExp): void {
  assert.throws(() => parse(message, limits), (e: unknown) => e instanceof ProtocolError && field.test(e.path), `expected rejection at ${field} for ${JSON.stringify(message)}`);
}

test('well-formed messages of each webview pass unchanged', () => {
  const tokens = [
    { type: 'ready' },
    { type: 'highlightLatent', latent: 511, slot: 1 },
    { type: 'clearHighlight' },
    { type: 'openLatent', latent: 0 },
    { type: 'revealToken', index: 30 },
    { type: 'exportHtml' },
    { type: 'request', id: 7, method: 'saveAnnotation', latent: 3, label: '', notes: '', status: 'rejected' },
  ];
  for (const m of tokens) assert.deepEqual(parseTokensMessage(m, limits), m);
  const latents = [
    { type: 'ready' }, { type: 'highlightLatent', latent: 5, slot: 0 }, { type: 'openLatent', latent: 9 }, { type: 'rowCount', shown: 3, total: 512 },
    { type: 'steerLatents', steer: [{ latent: 511, strength: -2.5 }, { latent: 0, strength: 0 }] },
  ];
  for (const m of latents) assert.deepEqual(parseLatentsMessage(m, limits), m);
  const latent = [
    { type: 'revealToken', index: 0 },
    { type: 'openEvidence', index: 1 },
    { type: 'request', id: 1, method: 'saveAnnotation', latent: 283, label: 'model turn <b>', notes: 'line 1\nline 2', status: 'confirmed' },
    { type: 'request', id: 2, method: 'saveAnnotation', latent: 283, label: '' },
    { type: 'request', id: 3, method: 'saveAnnotation', latent: 283, notes: 'only the notes' },
    { type: 'request', id: 4, method: 'saveAnnotation', latent: 283, status: 'rejected' },
    { type: 'request', id: 5, method: 'saveAnnotation', latent: 283, label: 'l', status: 'confirmed' },
  ];
  for (const m of latent) assert.deepEqual(parseLatentMessage(m, limits), m);
});

test('wrong shapes are rejected, naming the field', () => {
  rejects(parseTokensMessage, null, /^message$/);
  rejects(parseTokensMessage, 'ready', /^message$/);
  rejects(parseTokensMessage, [], /^message/);
  rejects(parseTokensMessage, { type: 'launchMissiles' }, /^message\.type$/);
  rejects(parseTokensMessage, { type: 'rowCount', shown: 1, total: 1 }, /^message\.type$/);
  rejects(parseTokensMessage, { type: 'highlightLatent', latent: '5', slot: 0 }, /^message\.latent$/);
  rejects(parseTokensMessage, { type: 'highlightLatent', latent: 5 }, /^message\.slot$/);
  rejects(parseTokensMessage, { type: 'highlightLatent', latent: 5, slot: 2 }, /^message\.slot$/);
  rejects(parseTokensMessage, { type: 'highlightLatent', latent: 1.5, slot: 0 }, /^message\.latent$/);
  rejects(parseTokensMessage, { type: 'highlightLatent', latent: -1, slot: 0 }, /^message\.latent$/);
  rejects(parseTokensMessage, { type: 'ready', extra: 1 }, /^message\.extra$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'saveAnnotation', latent: 1, label: 'x', notes: 'y', status: 'maybe' }, /^message\.status$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'saveAnnotation', latent: 1, label: 5, notes: 'y', status: 'hypothesis' }, /^message\.label$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'saveAnnotation', latent: 1, label: 'x'.repeat(100_001), notes: '', status: 'hypothesis' }, /^message\.label$/);
  rejects(parseLatentMessage, { type: 'request', id: -3, method: 'saveAnnotation', latent: 1, label: 'x', notes: 'y', status: 'hypothesis' }, /^message\.id$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'saveAnnotation', latent: 512, label: 'x', notes: 'y', status: 'hypothesis' }, /^message\.latent$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'saveAnnotation', latent: 1 }, /^message$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'saveAnnotation', latent: 1, label: 'x', evidence: [] }, /^message\.evidence$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'saveAnnotation', latent: 1, updatedAt: '2025-01-01' }, /^message\.updatedAt$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'saveAnnotation', latent: 1, notes: undefined }, /^message\.notes$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'saveAnnotation', label: 'x' }, /^message\.latent$/);
  rejects(parseLatentMessage, { type: 'request', id: 1, method: 'deleteEverything' }, /^message\.method$/);
  rejects(parseLatentsMessage, { type: 'rowCount', shown: NaN, total: 5 }, /^message\.shown$/);
});

test('steering from the sidebar: finite strengths, distinct latents in range, a non-empty bounded list', () => {
  for (const strength of [NaN, Infinity, -Infinity, '1', null]) rejects(parseLatentsMessage, { type: 'steerLatents', steer: [{ latent: 3, strength }] }, /^message\.steer\[0\]\.strength$/);
  rejects(parseLatentsMessage, { type: 'steerLatents', steer: [{ latent: 3, strength: 1 }, { latent: 512, strength: 1 }] }, /^message\.steer\[1\]\.latent$/);
  rejects(parseLatentsMessage, { type: 'steerLatents', steer: [{ latent: 3, strength: 1 }, { latent: 3, strength: 2 }] }, /^message\.steer\[1\]\.latent$/);
  rejects(parseLatentsMessage, { type: 'steerLatents', steer: [{ latent: 3 }] }, /^message\.steer\[0\]\.strength$/);
  rejects(parseLatentsMessage, { type: 'steerLatents', steer: [{ latent: 3, strength: 1, on: 'all' }] }, /^message\.steer\[0\]\.on$/);
  rejects(parseLatentsMessage, { type: 'steerLatents', steer: [] }, /^message\.steer$/);
  rejects(parseLatentsMessage, { type: 'steerLatents', steer: { latent: 3, strength: 1 } }, /^message\.steer$/);
  rejects(parseLatentsMessage, { type: 'steerLatents', steer: Array.from({ length: 65 }, (_, latent) => ({ latent, strength: 1 })) }, /^message\.steer$/);
  rejects(parseTokensMessage, { type: 'steerLatents', steer: [{ latent: 3, strength: 1 }] }, /^message\.type$/);
});

test('indices outside the current data are rejected', () => {
  rejects(parseTokensMessage, { type: 'openLatent', latent: 512 }, /^message\.latent$/);
  rejects(parseTokensMessage, { type: 'revealToken', index: 31 }, /^message\.index$/);
  rejects(parseLatentMessage, { type: 'openEvidence', index: 2 }, /^message\.index$/);
  assert.throws(() => parseLatentsMessage({ type: 'openLatent', latent: 0 }, { dictSize: 0, tokens: 0, evidence: 0 }), /out of range \(0 latents\)/);
});

test('objects that are not plain data are rejected', () => {
  const withProto = JSON.parse('{"type":"ready","__proto__":{"polluted":true}}');
  rejects(parseTokensMessage, withProto, /^message\.__proto__$/);
  class Fake { type = 'ready'; }
  rejects(parseTokensMessage, new Fake(), /^message$/);
  rejects(parseTokensMessage, Object.assign(Object.create({ latent: 1 }), { type: 'openLatent' }), /^message$/);
});
