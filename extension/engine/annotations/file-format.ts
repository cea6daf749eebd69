/**
 * The annotation file: diff-friendly JSON with one line per latent, latents sorted by id, crosscoders sorted by
 * identity, and a fixed key order inside records, so two edits to different latents touch different lines:
 *
 * {
 *   "format": "latent-diff-annotations",
 *   "version": 1,
 *   "crosscoders": {
 *     "<crosscoder identity>": {
 *       "12": {"label": "...", "status": "hypothesis", "notes": "...", "evidence": [...], "updatedAt": "..."}
 *     }
 *   }
 * }
 */
import { LatentDiffError } from '../errors';
import { findDuplicateKey, type DuplicateKey } from '../json-duplicates';
import { jsonSyntaxProblem } from '../input-files';
import { checkRecord, describe, isObject, parseLatentKey } from './record-check';
import type { AnnotationFileData, AnnotationRecord, AnnotationSection, Evidence } from './types';

export const ANNOTATION_FORMAT = 'latent-diff-annotations';
export const ANNOTATION_VERSION = 1;
const LEFT_AS_IS = '. Annotations are read-only until this is fixed; the file will not be overwritten.';

export function parseAnnotationFile(text: string, file: string): AnnotationFileData {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new LatentDiffError(file, `not valid JSON (${jsonSyntaxProblem(e, text)})${LEFT_AS_IS}`, 'malformed-annotations');
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate) throw new LatentDiffError(file, `${duplicateKeyProblem(duplicate)}${LEFT_AS_IS}`, 'malformed-annotations');
  try {
    return parseAnnotationValue(value, file);
  } catch (e) {
    if (e instanceof LatentDiffError) throw new LatentDiffError(file, `${e.problem}${LEFT_AS_IS}`, 'malformed-annotations');
    throw e;
  }
}

/** Says which key appears twice, in the words of the annotation format (a latent of a crosscoder, or a field). */
export function duplicateKeyProblem({ key, path }: DuplicateKey): string {
  if (path.length === 2 && path[0] === 'crosscoders') return `crosscoders[${JSON.stringify(path[1])}]: latent "${key}" appears twice`;
  if (path.length === 0) return `"${key}" appears twice`;
  return `${path.map((k) => JSON.stringify(k)).join(' > ')}: "${key}" appears twice`;
}

export function parseAnnotationValue(value: unknown, file: string): AnnotationFileData {
  if (!isObject(value)) throw new LatentDiffError(file, `expected a JSON object at the top level, got ${describe(value)}`);
  if (value.format !== ANNOTATION_FORMAT) {
    throw new LatentDiffError(file, `"format" must be "${ANNOTATION_FORMAT}", got ${describe(value.format)}`);
  }
  if (typeof value.version !== 'number' || !Number.isInteger(value.version) || value.version < 1) {
    throw new LatentDiffError(file, `"version" must be a positive integer, got ${describe(value.version)}`);
  }
  if (value.version > ANNOTATION_VERSION) {
    throw new LatentDiffError(file, `written by a newer Latent Diff (format version ${value.version}); this one reads version ${ANNOTATION_VERSION}`);
  }
  for (const k of Object.keys(value)) {
    if (k !== 'format' && k !== 'version' && k !== 'crosscoders') throw new LatentDiffError(file, `unknown top-level field "${k}"`);
  }
  const crosscoders = value.crosscoders ?? {};
  if (!isObject(crosscoders)) throw new LatentDiffError(file, `"crosscoders" must be an object, got ${describe(crosscoders)}`);
  const data: AnnotationFileData = { crosscoders: new Map() };
  for (const [identity, section] of Object.entries(crosscoders)) {
    const where = `crosscoders[${JSON.stringify(identity)}]`;
    if (!isObject(section)) throw new LatentDiffError(file, `${where}: expected an object of latent id -> annotation, got ${describe(section)}`);
    const records: AnnotationSection = new Map();
    for (const [key, record] of Object.entries(section)) {
      const latent = parseLatentKey(key, file, where);
      records.set(latent, checkRecord(record, file, `${where}["${key}"]`));
    }
    data.crosscoders.set(identity, records);
  }
  return data;
}

function evidenceJson(e: Evidence): object {
  const r = e.range;
  const out: Record<string, unknown> = {
    file: e.file,
    range: { start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } },
    activation: e.activation,
  };
  if (e.text !== undefined) out.text = e.text;
  return out;
}

/** One record as a single line, keys in a fixed order. */
export function recordJson(r: AnnotationRecord): string {
  return JSON.stringify({ label: r.label, status: r.status, notes: r.notes, evidence: r.evidence.map(evidenceJson), updatedAt: r.updatedAt });
}

export function serializeAnnotationFile(data: AnnotationFileData): string {
  const identities = [...data.crosscoders.keys()].filter((id) => data.crosscoders.get(id)!.size > 0).sort();
  const blocks = identities.map((identity) => {
    const section = data.crosscoders.get(identity)!;
    const lines = [...section.keys()].sort((a, b) => a - b).map((latent) => `      "${latent}": ${recordJson(section.get(latent)!)}`);
    return `    ${JSON.stringify(identity)}: {\n${lines.join(',\n')}\n    }`;
  });
  const crosscoders = blocks.length ? `{\n${blocks.join(',\n')}\n  }` : '{}';
  return `{\n  "format": "${ANNOTATION_FORMAT}",\n  "version": ${ANNOTATION_VERSION},\n  "crosscoders": ${crosscoders}\n}\n`;
}
