/**
 * Import and export of annotations: our own JSON format, the paper's hand labels ({"<latent id>": "label"}),
 * and CSV (latent,label,status,notes,evidence,updatedAt; evidence is a JSON array in one cell).
 */
import { LatentDiffError } from '../errors';
import { parseCsv, writeCsv } from '../csv';
import { findDuplicateKey } from '../json-duplicates';
import { jsonSyntaxProblem } from '../input-files';
import { ANNOTATION_FORMAT, duplicateKeyProblem, parseAnnotationValue, serializeAnnotationFile } from './file-format';
import { checkEvidence, checkStatus, describe, isObject, parseLatentKey } from './record-check';
import type { Annotation, AnnotationPatch, AnnotationSection, Evidence } from './types';

/** What an import contributes to one latent: the fields it sets, and evidence to add. */
export interface ImportedAnnotation extends AnnotationPatch {
  latent: number;
  evidence?: Evidence[];
}

export interface ParsedImport {
  records: ImportedAnnotation[];
  /** Where the records came from inside the text ("hand labels", or which crosscoder section). */
  source: string;
}

export function parseJsonImport(text: string, identity: string, file: string): ParsedImport {
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    throw new LatentDiffError(file, `not valid JSON (${jsonSyntaxProblem(e, text)})`);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate) throw new LatentDiffError(file, duplicateKeyProblem(duplicate), 'duplicate-key');
  if (!isObject(value)) throw new LatentDiffError(file, `expected a JSON object (latent id -> label, or a Latent Diff annotation file), got ${describe(value)}`);
  if (value.format === ANNOTATION_FORMAT) return fromOwnFormat(parseAnnotationValue(value, file).crosscoders, identity, file);
  const records: ImportedAnnotation[] = [];
  for (const [key, label] of Object.entries(value)) {
    const latent = parseLatentKey(key, file, 'hand labels');
    if (typeof label !== 'string') {
      throw new LatentDiffError(file, `hand labels["${key}"]: expected the label text (a string), got ${describe(label)}`);
    }
    records.push({ latent, label });
  }
  return { records, source: 'hand labels (latent id -> text)' };
}

function fromOwnFormat(crosscoders: Map<string, AnnotationSection>, identity: string, file: string): ParsedImport {
  let chosen = identity;
  let section = crosscoders.get(identity);
  if (!section) {
    if (crosscoders.size !== 1) {
      const ids = [...crosscoders.keys()];
      throw new LatentDiffError(
        file,
        ids.length ? `has no annotations for this crosscoder (${identity}); it has ${ids.join(', ')}` : 'holds no annotations',
      );
    }
    [[chosen, section]] = crosscoders;
  }
  const records = [...section].map(([latent, r]) => ({ latent, label: r.label, notes: r.notes, status: r.status, evidence: r.evidence }));
  return { records, source: chosen === identity ? 'this crosscoder' : `crosscoder ${chosen}` };
}

const CSV_COLUMNS = ['latent', 'label', 'status', 'notes', 'evidence', 'updatedAt'] as const;
const CSV_ALIASES: Record<string, (typeof CSV_COLUMNS)[number]> = {
  latent: 'latent', latent_id: 'latent', id: 'latent', feature: 'latent',
  label: 'label', description: 'label', text: 'label',
  status: 'status', notes: 'notes', evidence: 'evidence', updatedat: 'updatedAt',
};

export function annotationsToCsv(list: readonly Annotation[]): string {
  const rows = list.map((a) => [String(a.latent), a.label, a.status, a.notes, a.evidence.length ? JSON.stringify(a.evidence) : '', a.updatedAt]);
  return writeCsv([[...CSV_COLUMNS], ...rows]);
}

export function parseCsvImport(text: string, file: string): ParsedImport {
  const rows = parseCsv(text, file);
  if (rows.length === 0) throw new LatentDiffError(file, 'empty CSV: expected a header row with a "latent" column');
  const columns = rows[0].map((h) => CSV_ALIASES[h.trim().toLowerCase()]);
  const col = (name: (typeof CSV_COLUMNS)[number]) => columns.indexOf(name);
  if (col('latent') < 0) throw new LatentDiffError(file, `line 1: no "latent" column in the header (${rows[0].join(', ')})`);
  const records: ImportedAnnotation[] = [];
  const rowOf = new Map<number, number>();
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r];
    const where = `row ${r + 1}`;
    if (row.length !== rows[0].length) throw new LatentDiffError(file, `${where}: ${row.length} fields, the header has ${rows[0].length}`);
    const cell = (name: (typeof CSV_COLUMNS)[number]) => (col(name) >= 0 ? row[col(name)] : undefined);
    const rec: ImportedAnnotation = { latent: parseLatentKey(cell('latent')!.trim(), file, `${where}, latent`) };
    if (rowOf.has(rec.latent)) throw new LatentDiffError(file, `${where}: latent ${rec.latent} appears twice (also on row ${rowOf.get(rec.latent)})`, 'duplicate-key');
    rowOf.set(rec.latent, r + 1);
    if (cell('label') !== undefined) rec.label = cell('label');
    if (cell('notes') !== undefined) rec.notes = cell('notes');
    const status = cell('status');
    if (status !== undefined && status.trim() !== '') rec.status = checkStatus(status.trim(), file, `${where}, status`);
    const evidence = cell('evidence');
    if (evidence !== undefined && evidence.trim() !== '') rec.evidence = parseEvidenceCell(evidence, file, where);
    records.push(rec);
  }
  return { records, source: 'CSV' };
}

function parseEvidenceCell(cell: string, file: string, where: string): Evidence[] {
  let value: unknown;
  try {
    value = JSON.parse(cell);
  } catch (e) {
    throw new LatentDiffError(file, `${where}, evidence: not a JSON array (${jsonSyntaxProblem(e, cell)})`);
  }
  if (!Array.isArray(value)) throw new LatentDiffError(file, `${where}, evidence: expected a JSON array, got ${describe(value)}`);
  return value.map((e, i) => checkEvidence(e, file, `${where}, evidence[${i}]`));
}

/** Our own format holding one crosscoder's section. */
export function annotationsToJson(identity: string, section: AnnotationSection): string {
  return serializeAnnotationFile({ crosscoders: new Map([[identity, section]]) });
}

/** The paper's hand-label format: {"<latent id>": "label"}, latents with an empty label left out. */
export function labelsToJson(list: readonly Annotation[]): string {
  const labelled = list.filter((a) => a.label !== '');
  const lines = labelled.map((a) => `  "${a.latent}": ${JSON.stringify(a.label)}`);
  return lines.length ? `{\n${lines.join(',\n')}\n}\n` : '{}\n';
}
