import { readFileSync, statSync } from 'node:fs';
import { LatentDiffError } from '../errors';
import { jsonSyntaxProblem } from '../input-files';
import type { ChatMessage } from '../text/chat-template';
import { parseLocatedJson } from '../text/json-locator';
import { badRecord } from './bad-records';
import { overLimitProblem, readLines } from './line-reader';
import { textRecord, type DatasetReadOptions, type ReadRecord } from './records';

/** Largest .json file read as one document (an array of records); JSONL streams at any size. */
const MAX_JSON_DOCUMENT_BYTES = 64 * 1024 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a `messages` array; returns the messages or the problem. */
function parseMessages(v: unknown): ChatMessage[] | string {
  if (!Array.isArray(v) || v.length === 0) return '"messages" must be a non-empty array';
  const out: ChatMessage[] = [];
  for (let i = 0; i < v.length; i++) {
    const m = v[i];
    if (!isObject(m) || typeof m.role !== 'string' || typeof m.content !== 'string') {
      return `messages[${i}] must be an object with string "role" and "content"`;
    }
    out.push({ role: m.role, content: m.content });
  }
  return out;
}

/** One parsed JSON value as a record, or undefined after reporting it as a bad record. */
function recordOf(value: unknown, file: string, line: number, opts: DatasetReadOptions, fileFraction: number): ReadRecord | undefined {
  if (!isObject(value)) {
    badRecord(opts, { file, line, problem: 'expected a JSON object with "text" or "messages"' });
  } else if (value.messages !== undefined) {
    const messages = parseMessages(value.messages);
    if (typeof messages !== 'string') return { record: { kind: 'messages', messages, file, line }, fileFraction };
    badRecord(opts, { file, line, problem: messages });
  } else if (typeof value.text === 'string') {
    return { record: textRecord(value.text, file, line), fileFraction };
  } else {
    badRecord(opts, { file, line, problem: 'has neither a "text" string nor a "messages" array' });
  }
  return undefined;
}

/**
 * A file that is one JSON document rather than JSONL: it opens with "[" (an array of records), or its first
 * line is "{" without the rest of the object (a record pretty-printed over several lines).
 */
async function isOneJsonDocument(file: string): Promise<boolean> {
  for await (const { line, overLimit } of readLines(file)) {
    if (overLimit) return false;
    const t = line.trim();
    if (t === '') continue;
    if (t.startsWith('[')) return true;
    if (!t.startsWith('{')) return false;
    try {
      JSON.parse(t);
      return false;
    } catch {
      return true;
    }
  }
  return false;
}

/** A .json file holding an array of records, or one record: each record's line is where it starts. */
function* readJsonDocument(file: string, opts: DatasetReadOptions): Generator<ReadRecord> {
  const size = statSync(file).size;
  if (size > MAX_JSON_DOCUMENT_BYTES) {
    throw new LatentDiffError(file, `one JSON document of ${(size / 2 ** 20).toFixed(0)} MB: datasets that large must be JSONL (one record per line)`, 'bad-dataset');
  }
  const raw = readFileSync(file, 'utf8');
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  const located = parseLocatedJson(text);
  if (!located) throw new LatentDiffError(file, 'is neither one JSON document (an array of records, or one record) nor JSONL (one JSON record per line)', 'bad-dataset');
  const value: unknown = JSON.parse(text);
  const items = located.type === 'array' ? located.items : [located];
  const values = located.type === 'array' ? (value as unknown[]) : [value];
  let line = 1;
  let counted = 0;
  for (let i = 0; i < items.length; i++) {
    for (; counted < items[i].start; counted++) if (text.charCodeAt(counted) === 0x0a) line++;
    const r = recordOf(values[i], file, line, opts, (i + 1) / items.length);
    if (r) yield r;
  }
}

/**
 * JSONL: one JSON object per line, with a `text` string (a document, or turns already written in the chat
 * template) or a `messages` array (a conversation). Blank lines are ignored; anything else is a bad record.
 * A .json file that is one JSON document (an array of such objects, or one pretty-printed) is read whole.
 */
export async function* readJsonlFile(file: string, opts: DatasetReadOptions): AsyncGenerator<ReadRecord> {
  if (await isOneJsonDocument(file)) {
    yield* readJsonDocument(file, opts);
    return;
  }
  for await (const { line, lineNo, fraction, overLimit } of readLines(file)) {
    if (overLimit) {
      badRecord(opts, { file, line: lineNo, problem: overLimitProblem() });
      continue;
    }
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      badRecord(opts, { file, line: lineNo, problem: `not valid JSON (${jsonSyntaxProblem(e, line)})` });
      continue;
    }
    const r = recordOf(value, file, lineNo, opts, fraction);
    if (r) yield r;
  }
}
