/**
 * Recognises the chat forms of SPEC 3 in a document:
 * - JSON: `{"messages": [{"role", "content"}, ...]}` or a bare array of such messages;
 * - JSONL: every non-blank line is one such conversation;
 * - turns written out: `<start_of_turn>{role}\n ... <end_of_turn>`.
 * A message needs a string role and a string content; anything else is not a chat, and the document is
 * then analysed as plain text.
 */
import { parseLocatedJson, type JsonString, type LocatedJson } from './json-locator';

export interface LocatedMessage {
  role: string;
  content: string;
  /** The content's string literal in the document. */
  contentNode: JsonString;
}

export type JsonChat = { form: 'json' | 'jsonl'; conversations: LocatedMessage[][] };

/** A turn opener written in the text: `<start_of_turn>` directly followed by a role name and a newline. */
export const TURN_OPENER = /<start_of_turn>[A-Za-z][\w-]*\r?\n/;

function asConversation(v: LocatedJson | undefined): LocatedMessage[] | undefined {
  if (v?.type === 'object') v = v.entries.get('messages');
  if (v?.type !== 'array' || v.items.length === 0) return undefined;
  const messages: LocatedMessage[] = [];
  for (const item of v.items) {
    if (item.type !== 'object') return undefined;
    const role = item.entries.get('role');
    const content = item.entries.get('content');
    if (role?.type !== 'string' || content?.type !== 'string') return undefined;
    messages.push({ role: role.value, content: content.value, contentNode: content });
  }
  return messages;
}

/** The conversations of a JSON or JSONL chat document, or undefined when it is not one. Never throws. */
export function detectJsonChat(text: string): JsonChat | undefined {
  const first = text.trimStart().replace(/^\ufeff/, '')[0];
  if (first !== '{' && first !== '[') return undefined;
  const whole = parseLocatedJson(text);
  if (whole !== undefined) {
    const conversation = asConversation(whole);
    return conversation && { form: 'json', conversations: [conversation] };
  }
  const conversations: LocatedMessage[][] = [];
  let lineStart = 0;
  while (lineStart <= text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    if (/\S/.test(text.slice(lineStart, lineEnd))) {
      const conversation = asConversation(parseLocatedJson(text, lineStart, lineEnd));
      if (conversation === undefined) return undefined;
      conversations.push(conversation);
    }
    lineStart = lineEnd + 1;
  }
  return conversations.length > 0 ? { form: 'jsonl', conversations } : undefined;
}

/** Whether the text writes out at least one chat turn literally. */
export function hasLiteralTurns(text: string): boolean {
  return TURN_OPENER.test(text);
}
