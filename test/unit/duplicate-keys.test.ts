/**
 * A key given twice, where the key names a tensor or a latent, is an error naming the file and the key
 * (JSON.parse and a naive CSV read keep the last one silently): safetensors headers, bundle.json,
 * feature_df.csv, the annotation file and annotation imports (JSON and CSV). Also checks the duplicate-key
 * scanner against JSON.parse's own view of keys on text with escapes, nesting and arrays.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader, writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { readJsonObject } from '../../extension/engine/bundle/json-file';
import { readFeatureDf } from '../../extension/engine/analysis/feature-df';
import { parseAnnotationFile } from '../../extension/engine/annotations/file-format';
import { parseCsvImport, parseJsonImport } from '../../extension/engine/annotations/exchange';
import { findDuplicateKey } from '../../extension/engine/json-duplicates';
import { latentDiffErrorFrom } from '../support/errors';
import { tempDir } from './bundle-fixtures';

function refused(fn: () => unknown, file: string, pattern: RegExp): void {
  const e = latentDiffErrorFrom(fn);
  assert.equal(e.file, file);
  assert.match(e.message, pattern);
}

test('the scanner finds a repeated key at any depth and nothing else', () => {
  assert.equal(findDuplicateKey('{"a": 1, "b": {"a": 2}, "c": [{"a": 1}, {"a": 2}]}'), undefined);
  assert.equal(findDuplicateKey('{"x\\"a": "a", "a": "\\"a\\"", "k": ["{", "}"]}'), undefined);
  assert.deepEqual(findDuplicateKey('{"a": 1, "b": {"c": [1, {"d": 1}], "c\\u0030": 2, "c0": 3}}'), { key: 'c0', path: ['b'] });
  assert.deepEqual(findDuplicateKey('[{"t": {"n": 1, "n": 2}}]'), { key: 'n', path: ['t'] });
  assert.deepEqual(findDuplicateKey('{"w": 1, "v": "w", "w": 2}'), { key: 'w', path: [] });
});

test('a safetensors header naming the same tensor twice', () => {
  const file = join(tempDir('dup'), 'model.safetensors');
  const t = { dtype: 'F32' as const, shape: [2], data: Float32Array.of(1, 2) };
  writeSafetensors(file, { 'decoder.weighx': t, 'decoder.weight': t });
  const bytes = readFileSync(file);
  writeFileSync(file, Buffer.from(bytes.toString('latin1').replace('"decoder.weighx"', '"decoder.weight"'), 'latin1'));
  refused(() => readSafetensorsHeader(file), file, /tensor "decoder\.weight" twice/);
});

test('bundle.json with a field twice', () => {
  const file = join(tempDir('dup'), 'bundle.json');
  writeFileSync(file, '{"name": "a", "crosscoder": {"path": "x"}, "name": "b"}');
  refused(() => readJsonObject(file), file, /"name" appears twice/);
});

test('feature_df.csv with the same latent on two rows', () => {
  const file = join(tempDir('dup'), 'feature_df.csv');
  writeFileSync(file, 'latent,delta_norm\n0,0.5\n3,0.9\n3,0.1\n');
  refused(() => readFeatureDf(file), file, /row 4: latent 3 appears twice \(also on row 3\)/);
});

test('an annotation file with the same latent twice, and imports with the same latent twice', () => {
  const file = '/ws/.latent-diff/annotations.json';
  const rec = '{"label": "x", "status": "hypothesis", "notes": "", "evidence": [], "updatedAt": "2025-01-01T00:00:00.000Z"}';
  const text = `{"format": "latent-diff-annotations", "version": 1, "crosscoders": {"cc-1": {"12": ${rec}, "12": ${rec.replace('"x"', '"y"')}}}}`;
  refused(() => parseAnnotationFile(text, file), file, /crosscoders\["cc-1"\]: latent "12" appears twice/);
  refused(() => parseJsonImport(text, 'cc-1', 'import.json'), 'import.json', /latent "12" appears twice/);
  refused(() => parseJsonImport('{"5": "a", "6": "b", "5": "c"}', 'cc-1', 'labels.json'), 'labels.json', /"5" appears twice/);
  refused(() => parseCsvImport('latent,label\n5,a\n6,b\n5,c\n', 'labels.csv'), 'labels.csv', /row 4: latent 5 appears twice \(also on row 2\)/);
});
