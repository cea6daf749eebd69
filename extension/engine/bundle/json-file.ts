import { readFileSync } from 'node:fs';
import { LatentDiffError } from '../errors';
import { checkRegularFile, jsonSyntaxProblem } from '../input-files';
import { findDuplicateKey } from '../json-duplicates';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a file that must hold a JSON object; every failure is a LatentDiffError naming the file. */
export function readJsonObject(path: string): JsonObject {
  checkRegularFile(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LatentDiffError(path, `cannot read file (${(e as NodeJS.ErrnoException).code ?? e})`, 'not-found');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new LatentDiffError(path, `not valid JSON (${jsonSyntaxProblem(e, text)})`);
  }
  if (!isJsonObject(value)) throw new LatentDiffError(path, 'expected a JSON object at the top level');
  const duplicate = findDuplicateKey(text);
  if (duplicate) throw new LatentDiffError(path, `"${[...duplicate.path, duplicate.key].join('.')}" appears twice`, 'duplicate-key');
  return value;
}
