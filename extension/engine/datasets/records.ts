/**
 * What dataset readers yield: one record per document or conversation, streamed, never a whole file.
 *
 * - `text`: a document. `templated` when it already holds chat turns written out (`<start_of_turn>user\n...`,
 *   like the paper's lmsys-chat-1m-chat-formatted `text` column); `hasBos` when it starts with a literal `<bos>`.
 * - `messages`: a conversation to render with the chat template.
 */
import type { ChatMessage } from '../text/chat-template';

export interface RecordSource {
  file: string;
  /** 1-based line of a text/JSONL file, 1-based row of a Parquet file. */
  line: number;
}

export type DatasetRecord =
  | ({ kind: 'text'; text: string; templated: boolean; hasBos: boolean } & RecordSource)
  | ({ kind: 'messages'; messages: ChatMessage[] } & RecordSource);

export interface BadRecord extends RecordSource {
  problem: string;
}

export interface DatasetReadOptions {
  /** 'skip' (default): report and go on; 'fail': throw a LatentDiffError naming file:line. */
  onBadRecord?: 'skip' | 'fail';
  /** Told about every bad record that is skipped. */
  onSkip?: (bad: BadRecord) => void;
  /** Parquet column holding the text (default "text"). */
  textColumn?: string;
}

/** A record and how far into its file the reader is (for progress and ETA). */
export interface ReadRecord {
  record: DatasetRecord;
  /** Fraction of the file consumed, 0..1. */
  fileFraction: number;
}

const TURN = /<start_of_turn>[A-Za-z][\w-]*\r?\n/;

export function textRecord(text: string, file: string, line: number): DatasetRecord {
  return { kind: 'text', text, templated: TURN.test(text), hasBos: text.startsWith('<bos>'), file, line };
}
