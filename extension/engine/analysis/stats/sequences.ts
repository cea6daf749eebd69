/**
 * Dataset records -> the token sequences the models see, with the token groups of the template statistics
 * (method.md 7, 8): template ("ctrl") tokens are `<start_of_turn>{role}\n` and `<end_of_turn>\n`, 5 per turn;
 * the assistant group is a model turn's content plus its `<end_of_turn>`; position 0 is BOS.
 * Marking works on token ids, so chats rendered by us and chats already written out in a `text` column
 * (the paper's LMSYS data) get the same groups.
 */
import type { DatasetRecord } from '../../datasets/records';
import type { ChatTemplate } from '../../text/chat-template';
import { LatentDiffError } from '../../errors';

export interface SequenceTokenizer {
  readonly bosId: number;
  encode(text: string, opts: { addBos: boolean }): number[];
  tokenToId(token: string): number | undefined;
}

export interface Sequence {
  /** Global record index: the sequence_idx of examples.db. */
  index: number;
  ids: Int32Array;
  /** 0 = not a template token, k = 1..10: the k-th template token of its user+model turn pair. */
  ctrl: Uint8Array;
  /** 1 where the token belongs to a model turn's content or its <end_of_turn>. */
  assistant: Uint8Array;
  /** Has at least one template token (counted in the lmsys_* template statistics). */
  chat: boolean;
}

export interface TemplateIds {
  startOfTurn: number;
  endOfTurn: number;
  newline: number;
  model: number;
}

export function templateIds(tok: SequenceTokenizer, file: string): TemplateIds {
  const id = (t: string) => {
    const v = tok.tokenToId(t);
    if (v === undefined) throw new LatentDiffError(file, `the tokenizer has no "${JSON.stringify(t).slice(1, -1)}" token: not a Gemma chat tokenizer`);
    return v;
  };
  return { startOfTurn: id('<start_of_turn>'), endOfTurn: id('<end_of_turn>'), newline: id('\n'), model: id('model') };
}

/** Token ids of a record, BOS first. */
/** More characters than any Gemma token spans: the first N tokens of a text lie within its first N * this. */
const MAX_CHARS_PER_TOKEN = 64;

/**
 * A record's token ids, of which only the first `maxTokens` are used: a record far longer (megabytes) is
 * cut before tokenising, so its cost is bounded by the context window, not by the record.
 */
export function recordIds(tok: SequenceTokenizer, template: ChatTemplate, rec: DatasetRecord, maxTokens = Infinity): number[] {
  const text = rec.kind === 'messages' ? template.render(rec.messages, { docName: `${rec.file}:${rec.line}` }) : rec.text;
  const addBos = rec.kind === 'messages' ? !text.startsWith('<bos>') : !rec.hasBos;
  const maxChars = (maxTokens + 1) * MAX_CHARS_PER_TOKEN;
  return tok.encode(text.length > maxChars ? text.slice(0, maxChars) : text, { addBos }).slice(0, maxTokens);
}

const MAX_ROLE_TOKENS = 4;

/** Marks template and assistant tokens by id pattern. */
export function markTemplateTokens(ids: ArrayLike<number>, t: TemplateIds): { ctrl: Uint8Array; assistant: Uint8Array } {
  const n = ids.length;
  const ctrl = new Uint8Array(n);
  const assistant = new Uint8Array(n);
  let count = 0;
  const mark = (i: number) => (ctrl[i] = (count++ % 10) + 1);
  let inModelTurn = false;
  for (let i = 0; i < n; i++) {
    if (ids[i] === t.startOfTurn) {
      let end = -1;
      for (let k = i + 1; k < n && k <= i + MAX_ROLE_TOKENS; k++) {
        if (ids[k] === t.newline) {
          end = k;
          break;
        }
      }
      if (end < 0) continue;
      for (let k = i; k <= end; k++) mark(k);
      inModelTurn = end === i + 2 && ids[i + 1] === t.model;
      i = end;
    } else if (ids[i] === t.endOfTurn) {
      mark(i);
      if (inModelTurn) assistant[i] = 1;
      inModelTurn = false;
      if (i + 1 < n && ids[i + 1] === t.newline) mark(++i);
    } else if (inModelTurn) {
      assistant[i] = 1;
    }
  }
  return { ctrl, assistant };
}

export function makeSequence(index: number, ids: number[], maxTokens: number, t: TemplateIds): Sequence {
  const kept = ids.length > maxTokens ? ids.slice(0, maxTokens) : ids;
  const { ctrl, assistant } = markTemplateTokens(ids, t);
  const n = kept.length;
  const c = ctrl.subarray(0, n);
  return { index, ids: Int32Array.from(kept), ctrl: c, assistant: assistant.subarray(0, n), chat: c.some((v) => v > 0) };
}
