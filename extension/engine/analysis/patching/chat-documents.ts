/**
 * Chats for the patching experiment: a file holding one chat (JSON with "messages", literal
 * `<start_of_turn>` turns) or many (JSONL of chats, a Parquet dataset with a templated "text" column) becomes
 * one PatchingDocument per conversation (each starts with its own <bos>), with its scored positions.
 * Conversations without a model turn to score are skipped and reported; a file without any is an error.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { datasetFormat, readDatasets } from '../../datasets/open-dataset';
import { LatentDiffError } from '../../errors';
import { tokenizeDocument, type TokenizeDocumentOptions } from '../../text/document';
import type { GemmaTokenizer } from '../../text/tokenizer';
import type { TokenInfo } from '../../types';
import type { PatchingDocument } from './patching-experiment';
import { scoredPositions, type TurnMarkerIds } from './positions';

export interface NamedDocument extends PatchingDocument {
  /** file#conversation (1-based). */
  name: string;
  tokens: TokenInfo[];
}

export function turnMarkerIds(tok: GemmaTokenizer): TurnMarkerIds {
  const startOfTurn = tok.tokenToId('<start_of_turn>');
  const endOfTurn = tok.tokenToId('<end_of_turn>');
  if (startOfTurn === undefined || endOfTurn === undefined) throw new LatentDiffError(tok.file, 'the tokenizer has no <start_of_turn> / <end_of_turn> tokens, so chats cannot be scored', 'bad-tokenizer');
  return { startOfTurn, endOfTurn };
}

/** Splits a token sequence before every <bos> after the first token. */
function conversations(tokens: TokenInfo[], bosId: number): TokenInfo[][] {
  const out: TokenInfo[][] = [];
  let start = 0;
  for (let t = 1; t <= tokens.length; t++) {
    if (t === tokens.length || tokens[t].id === bosId) {
      out.push(tokens.slice(start, t));
      start = t;
    }
  }
  return out;
}

export interface ChatDocumentsOptions extends Pick<TokenizeDocumentOptions, 'template'> {
  /** Told about each conversation that has no model turn to score. */
  onSkip?: (name: string) => void;
}

/** The scored conversations of one text (a chat, JSONL of chats, or turns written out). */
export function chatDocumentsOfText(tok: GemmaTokenizer, text: string, file: string, opts: ChatDocumentsOptions = {}, first = 1): NamedDocument[] {
  const ids = turnMarkerIds(tok);
  const doc = tokenizeDocument(tok, text, { mode: 'chat', docName: file, template: opts.template });
  const out: NamedDocument[] = [];
  conversations(doc.tokens, tok.bosId).forEach((tokens, k) => {
    const name = `${file}#${first + k}`;
    const masks = scoredPositions(tokens, ids);
    if (masks) out.push({ name, tokens, ids: tokens.map((t) => t.id), masks });
    else opts.onSkip?.(name);
  });
  return out;
}

export function noAssistantTurn(name: string): LatentDiffError {
  return new LatentDiffError(name, 'has no model (assistant) turn to score: the patching experiment measures the chat model\'s predictions of its own answers, so a chat needs at least one model turn', 'no-assistant-turn');
}

/** Every scored conversation of the files, in order; throws naming the file when one has none. */
export async function* chatDocumentsOfFiles(tok: GemmaTokenizer, files: readonly string[], opts: ChatDocumentsOptions = {}): AsyncGenerator<NamedDocument> {
  for (const file of files) {
    let found = 0;
    if (!existsSync(file)) throw new LatentDiffError(file, 'file not found', 'not-found');
    if (datasetFormat(file) === 'parquet') {
      for await (const { record } of readDatasets([file], { onBadRecord: 'fail' })) {
        const text = record.kind === 'messages' ? JSON.stringify({ messages: record.messages }) : record.text;
        for (const d of chatDocumentsOfText(tok, text, file, opts, record.line)) {
          found++;
          yield d;
        }
      }
    } else {
      if (statSync(file).isDirectory()) throw new LatentDiffError(file, 'is a folder, not a chat file', 'invalid-input');
      const text = readFileSync(file, 'utf8');
      if (text.trim() === '') throw new LatentDiffError(file, 'the file is empty: there is no chat to score', 'empty-document');
      for (const d of chatDocumentsOfText(tok, text, file, opts)) {
        found++;
        yield d;
      }
    }
    if (found === 0) throw noAssistantTurn(file);
  }
}
