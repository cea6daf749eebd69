/**
 * The JSON schemas registered with jsonValidation (schemas/*.schema.json), run by a real JSON Schema
 * validator (ajv), against the engine's own readers: the demo bundle.json and the paper bundles in
 * docs/real-models.md validate, unrelated bundle.json files are left alone, broken bundles fail; annotation
 * files written by the engine from random records validate, and files the engine rejects fail the schema too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv from 'ajv';
import { parseAnnotationValue, serializeAnnotationFile } from '../../extension/engine/annotations/file-format';
import { ANNOTATION_STATUSES, type AnnotationRecord } from '../../extension/engine/annotations/types';
import { seededRandom } from '../../extension/engine/random';

const ROOT = resolve(import.meta.dirname, '../..');
const ajv = new Ajv({ allErrors: true, strict: false });
const schema = (name: string) => ajv.compile(JSON.parse(readFileSync(join(ROOT, 'schemas', `${name}.schema.json`), 'utf8')));
const bundleValid = schema('bundle');
const annotationsValid = schema('annotations');

test('package.json registers both schemas, and they exist', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const urls = (pkg.contributes.jsonValidation as { url: string }[]).map((v) => v.url);
  assert.deepEqual(urls.sort(), ['./schemas/annotations.schema.json', './schemas/bundle.schema.json']);
});

test('the demo bundle and the paper bundles of docs/real-models.md are valid bundles', () => {
  const demo = JSON.parse(readFileSync(join(ROOT, 'models/demo/bundle.json'), 'utf8')) as Record<string, any>;
  assert.ok(bundleValid(demo), JSON.stringify(bundleValid.errors));
  assert.ok(bundleValid({ ...demo, chat: { ...demo.chat, unembedding: { safetensors: 'u.safetensors', tensor: 'lm_head.weight' } } }), JSON.stringify(bundleValid.errors));
  const docs = readFileSync(join(ROOT, 'docs/real-models.md'), 'utf8');
  const blocks = [...docs.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1])).filter((j) => j.schemaVersion);
  assert.ok(blocks.length >= 2);
  for (const b of blocks) assert.ok(bundleValid(b), `${b.name}: ${JSON.stringify(bundleValid.errors)}`);
});

test('a bundle.json that is not a Latent Diff bundle is left alone; broken bundles fail', () => {
  assert.ok(bundleValid({ name: 'some other tool', files: ['a.js'] }));
  const demo = JSON.parse(readFileSync(join(ROOT, 'models/demo/bundle.json'), 'utf8'));
  const broken: [string, Record<string, unknown>][] = [
    ['layer as a string', { ...demo, layer: '13' }],
    ['a typo in a field name', { ...demo, stat: 'feature_df.csv' }],
    ['both hf and onnx', { ...demo, base: { ...demo.base, hf: '../models/gemma-2-2b' } }],
    ['neither hf nor onnx', { ...demo, chat: { name: 'chat' } }],
    ['schema 2.0', { ...demo, schemaVersion: '2.0' }],
    ['no tokenizer', Object.fromEntries(Object.entries(demo).filter(([k]) => k !== 'tokenizer'))],
    ['an unembedding without its tensor', { ...demo, chat: { ...demo.chat, unembedding: { safetensors: 'u.safetensors' } } }],
    ['an unembedding on a Hugging Face folder', { ...demo, base: { name: 'base', hf: '../models/gemma-2-2b', unembedding: 'w' } }],
  ];
  for (const [what, b] of broken) assert.equal(bundleValid(b), false, what);
});

function randomRecord(rng: () => number): AnnotationRecord {
  const pos = () => ({ line: Math.floor(rng() * 500), character: Math.floor(rng() * 120) });
  return {
    label: `label ${Math.floor(rng() * 1e6)} "quoted" ünïcode`,
    status: ANNOTATION_STATUSES[Math.floor(rng() * ANNOTATION_STATUSES.length)],
    notes: rng() < 0.5 ? '' : 'line 1\nline 2',
    evidence: Array.from({ length: Math.floor(rng() * 3) }, () => ({ file: 'src/a.txt', range: { start: pos(), end: pos() }, activation: rng() * 10, ...(rng() < 0.5 ? { text: 'x' } : {}) })),
    updatedAt: new Date(1.7e12 + rng() * 1e10).toISOString(),
  };
}

test('annotation files the engine writes are valid; files the engine rejects are invalid', () => {
  const rng = seededRandom(3);
  for (let c = 0; c < 30; c++) {
    const sections = new Map(Array.from({ length: 1 + Math.floor(rng() * 2) }, (_, k) => [
      `crosscoder-${k}`, new Map(Array.from({ length: Math.floor(rng() * 6) }, () => [Math.floor(rng() * 73728), randomRecord(rng)] as [number, AnnotationRecord])),
    ] as [string, Map<number, AnnotationRecord>]));
    const value = JSON.parse(serializeAnnotationFile({ crosscoders: sections }));
    assert.ok(annotationsValid(value), JSON.stringify(annotationsValid.errors));
  }
  const good = JSON.parse(serializeAnnotationFile({ crosscoders: new Map([['cc', new Map([[7, randomRecord(rng)]])]]) }));
  const record = good.crosscoders.cc['7'];
  const bad: [string, unknown][] = [
    ['wrong format', { ...good, format: 'other' }],
    ['newer version', { ...good, version: 2 }],
    ['unknown top-level field', { ...good, extra: 1 }],
    ['latent key not an integer', { ...good, crosscoders: { cc: { '07': record } } }],
    ['unknown status', { ...good, crosscoders: { cc: { 7: { ...record, status: 'maybe' } } } }],
    ['label missing', { ...good, crosscoders: { cc: { 7: { status: 'hypothesis' } } } }],
    ['negative evidence line', { ...good, crosscoders: { cc: { 7: { ...record, evidence: [{ file: 'a', activation: 1, range: { start: { line: -1, character: 0 }, end: { line: 0, character: 0 } } }] } } } }],
  ];
  for (const [what, v] of bad) {
    assert.throws(() => parseAnnotationValue(v, 'annotations.json'), /annotations.json/, `the engine rejects: ${what}`);
    assert.equal(annotationsValid(v), false, `the schema rejects: ${what}`);
  }
});
