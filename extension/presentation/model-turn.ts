/**
 * Where and how a generated answer goes into the prompt's text ("Insert as model turn"): after the last
 * user turn as `<start_of_turn>model\n...<end_of_turn>` in a chat written as turns, as one more message in a
 * JSON chat, or appended as is when the text was continued. One replacement, so nothing is half-written.
 */
import { LatentDiffError } from '../engine/errors';
import { detectJsonChat } from '../engine/text/chat-detect';

export interface TextReplacement {
  /** Offsets in the prompt's text. */
  start: number;
  end: number;
  text: string;
}

const END_OF_TURN = '<end_of_turn>';
const LAST_TURN = /<start_of_turn>([A-Za-z][\w-]*)\r?\n/g;

export function answerInsertion(prompt: string, answer: string, continuation: boolean, docName?: string): TextReplacement {
  if (continuation) return { start: prompt.length, end: prompt.length, text: answer };
  const chat = detectJsonChat(prompt);
  if (chat) {
    if (chat.form !== 'json') throw new LatentDiffError(docName, 'a JSONL file holds several conversations: the answer can be inserted into a JSON chat or a chat written as turns', 'not-insertable');
    const parsed = JSON.parse(prompt) as { messages?: { role: string; content: string }[] } | { role: string; content: string }[];
    const messages = Array.isArray(parsed) ? parsed : parsed.messages!;
    const role = messages.some((m) => m.role === 'model') ? 'model' : 'assistant';
    messages.push({ role, content: answer });
    const indent = /\n([ \t]+)"/.exec(prompt)?.[1] ?? '';
    return { start: 0, end: prompt.length, text: JSON.stringify(parsed, null, indent || undefined) + (prompt.endsWith('\n') ? '\n' : '') };
  }
  const turns = [...prompt.matchAll(LAST_TURN)];
  const last = turns[turns.length - 1];
  if (!last || last[1] !== 'user') throw new LatentDiffError(docName, 'the text no longer ends with a user turn: the answer was not inserted', 'not-insertable');
  const bodyStart = last.index! + last[0].length;
  const end = prompt.indexOf(END_OF_TURN, bodyStart);
  const turn = `<start_of_turn>model\n${answer}${END_OF_TURN}\n`;
  if (end >= 0) {
    // Only whitespace can follow the user turn's end (the prompt was accepted): it is replaced.
    const after = end + END_OF_TURN.length;
    return { start: after, end: prompt.length, text: `\n${turn}` };
  }
  const trimmed = prompt.trimEnd().length;
  return { start: trimmed, end: prompt.length, text: `${END_OF_TURN}\n${turn}` };
}
