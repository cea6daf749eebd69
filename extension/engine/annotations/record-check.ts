/**
 * Validation of annotation values read from files or imports. Every failure is a LatentDiffError naming the
 * file and the JSON path of the bad value, so a hand-edited file can be fixed from the message alone.
 */
import { LatentDiffError } from '../errors';
import { ANNOTATION_STATUSES, type AnnotationRecord, type AnnotationStatus, type Evidence, type TextPosition } from './types';

type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return typeof v === 'object' ? 'an object' : String(v);
}

/** A latent id key: a non-negative integer written in decimal without leading zeros. */
export function parseLatentKey(key: string, file: string, where: string): number {
  if (!/^(0|[1-9]\d{0,9})$/.test(key)) throw new LatentDiffError(file, `${where}: ${JSON.stringify(key)} is not a latent id (a non-negative integer)`);
  return Number(key);
}

export function checkLatent(latent: unknown, file: string): number {
  if (typeof latent !== 'number' || !Number.isSafeInteger(latent) || latent < 0) {
    throw new LatentDiffError(file, `latent id must be a non-negative integer, got ${describe(latent)}`);
  }
  return latent;
}

export function checkStatus(v: unknown, file: string, where: string): AnnotationStatus {
  if (typeof v === 'string' && (ANNOTATION_STATUSES as readonly string[]).includes(v)) return v as AnnotationStatus;
  throw new LatentDiffError(file, `${where}: expected one of ${ANNOTATION_STATUSES.map((s) => `"${s}"`).join(', ')}, got ${describe(v)}`);
}

function checkString(v: unknown, file: string, where: string): string {
  if (typeof v !== 'string') throw new LatentDiffError(file, `${where}: expected a string, got ${describe(v)}`);
  return v;
}

function checkKeys(o: Obj, allowed: readonly string[], required: readonly string[], file: string, where: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new LatentDiffError(file, `${where}: unknown field "${k}" (allowed: ${allowed.join(', ')})`);
  }
  for (const k of required) if (!(k in o)) throw new LatentDiffError(file, `${where}: missing field "${k}"`);
}

function checkPosition(v: unknown, file: string, where: string): TextPosition {
  if (!isObject(v)) throw new LatentDiffError(file, `${where}: expected {"line", "character"}, got ${describe(v)}`);
  checkKeys(v, ['line', 'character'], ['line', 'character'], file, where);
  for (const k of ['line', 'character'] as const) {
    const n = v[k];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw new LatentDiffError(file, `${where}.${k}: expected a non-negative integer, got ${describe(n)}`);
    }
  }
  return { line: v.line as number, character: v.character as number };
}

export function checkEvidence(v: unknown, file: string, where: string): Evidence {
  if (!isObject(v)) throw new LatentDiffError(file, `${where}: expected an evidence object, got ${describe(v)}`);
  checkKeys(v, ['file', 'range', 'activation', 'text'], ['file', 'range', 'activation'], file, where);
  const range = v.range;
  if (!isObject(range)) throw new LatentDiffError(file, `${where}.range: expected {"start", "end"}, got ${describe(range)}`);
  checkKeys(range, ['start', 'end'], ['start', 'end'], file, `${where}.range`);
  const start = checkPosition(range.start, file, `${where}.range.start`);
  const end = checkPosition(range.end, file, `${where}.range.end`);
  if (end.line < start.line || (end.line === start.line && end.character < start.character)) {
    throw new LatentDiffError(file, `${where}.range: end is before start`);
  }
  if (typeof v.activation !== 'number' || !Number.isFinite(v.activation)) {
    throw new LatentDiffError(file, `${where}.activation: expected a finite number, got ${describe(v.activation)}`);
  }
  const ev: Evidence = { file: checkString(v.file, file, `${where}.file`), range: { start, end }, activation: v.activation };
  if (v.text !== undefined) ev.text = checkString(v.text, file, `${where}.text`);
  return ev;
}

export function checkRecord(v: unknown, file: string, where: string): AnnotationRecord {
  if (!isObject(v)) throw new LatentDiffError(file, `${where}: expected an annotation object, got ${describe(v)}`);
  checkKeys(v, ['label', 'status', 'notes', 'evidence', 'updatedAt'], ['label', 'status'], file, where);
  const evidence = v.evidence ?? [];
  if (!Array.isArray(evidence)) throw new LatentDiffError(file, `${where}.evidence: expected an array, got ${describe(evidence)}`);
  const updatedAt = v.updatedAt === undefined ? '' : checkString(v.updatedAt, file, `${where}.updatedAt`);
  if (updatedAt !== '' && Number.isNaN(Date.parse(updatedAt))) {
    throw new LatentDiffError(file, `${where}.updatedAt: not a date/time: ${describe(updatedAt)}`);
  }
  return {
    label: checkString(v.label, file, `${where}.label`),
    status: checkStatus(v.status, file, `${where}.status`),
    notes: v.notes === undefined ? '' : checkString(v.notes, file, `${where}.notes`),
    evidence: evidence.map((e, i) => checkEvidence(e, file, `${where}.evidence[${i}]`)),
    updatedAt,
  };
}
