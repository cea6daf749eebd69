import type { ChatMessage } from '../text/chat-template';
import { badRecord } from './bad-records';
import { readLines } from './line-reader';
import { textRecord, type DatasetReadOptions, type ReadRecord } from './records';

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

/**
 * JSONL: one JSON object per line, with a `text` string (a document, or turns already written in the chat
 * template) or a `messages` array (a conversation). Blank lines are ignored; anything else is a bad record.
 */
export async function* readJsonlFile(file: string, opts: DatasetReadOptions): AsyncGenerator<ReadRecord> {
  for await (const { line, lineNo, fraction } of readLines(file)) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      badRecord(opts, { file, line: lineNo, problem: `not valid JSON (${(e as Error).message})` });
      continue;
    }
    if (!isObject(value)) {
      badRecord(opts, { file, line: lineNo, problem: 'expected a JSON object with "text" or "messages"' });
      continue;
    }
    if (value.messages !== undefined) {
      const messages = parseMessages(value.messages);
      if (typeof messages === 'string') badRecord(opts, { file, line: lineNo, problem: messages });
      else yield { record: { kind: 'messages', messages, file, line: lineNo }, fileFraction: fraction };
    } else if (typeof value.text === 'string') {
      yield { record: textRecord(value.text, file, lineNo), fileFraction: fraction };
    } else {
      badRecord(opts, { file, line: lineNo, problem: 'has neither a "text" string nor a "messages" array' });
    }
  }
}
