/**
 * The token ids a model generates from (issue 8): a chat that ends with a user turn, rendered with the
 * bundle's chat template and the generation prompt `<start_of_turn>model\n`; or, when asked, the text
 * continued as it stands.
 */
import type { ChatTemplateSource } from '../../bundle/bundle';
import { LatentDiffError } from '../../errors';
import { detectJsonChat } from '../../text/chat-detect';
import { bundleChatTemplate } from '../../text/chat-template';
import type { GemmaTokenizer } from '../../text/tokenizer';

const BOS = '<bos>';
const TURN = /<start_of_turn>([A-Za-z][\w-]*)\r?\n/g;
const END_OF_TURN = '<end_of_turn>';
const HOW_TO_CONTINUE = 'to continue the text as it stands instead, ask for a continuation (CLI: --continue)';

export interface PromptOptions {
  /** Continue the text as it stands instead of answering its last user turn. */
  continuation?: boolean;
  chatTemplate: ChatTemplateSource;
  docName?: string;
}

export function generationPrompt(tok: GemmaTokenizer, text: string, opts: PromptOptions): number[] {
  if (text.trim() === '') throw new LatentDiffError(opts.docName, 'the document is empty: there is nothing to answer or continue', 'empty-document');
  const encode = (s: string) => tok.encode(s, { addBos: !s.startsWith(BOS) });
  if (opts.continuation) return encode(text);
  const chat = detectJsonChat(text);
  if (chat) {
    if (chat.conversations.length !== 1) throw new LatentDiffError(opts.docName, `the file holds ${chat.conversations.length} conversations; a generation answers one: keep the conversation to answer`, 'not-a-user-turn');
    const messages = chat.conversations[0];
    const last = messages[messages.length - 1];
    if (last.role !== 'user') throw notUserTurn(opts.docName, last.role);
    const template = bundleChatTemplate(opts.chatTemplate);
    return encode(template.render(messages, { addGenerationPrompt: true, docName: opts.docName }));
  }
  const turns = [...text.matchAll(TURN)];
  if (turns.length === 0) throw new LatentDiffError(opts.docName, `the text is not a chat (no <start_of_turn> turns and no JSON "messages"): the model answers a chat that ends with a user turn; ${HOW_TO_CONTINUE}`, 'not-a-user-turn');
  const lastTurn = turns[turns.length - 1];
  if (lastTurn[1] !== 'user') throw notUserTurn(opts.docName, lastTurn[1]);
  const body = text.slice(lastTurn.index! + lastTurn[0].length);
  const end = body.indexOf(END_OF_TURN);
  if (end >= 0 && body.slice(end + END_OF_TURN.length).trim() !== '') {
    throw new LatentDiffError(opts.docName, `text follows the last user turn's <end_of_turn>: the model answers a chat that ends with a user turn; ${HOW_TO_CONTINUE}`, 'not-a-user-turn');
  }
  const closed = end >= 0 ? text.slice(0, lastTurn.index! + lastTurn[0].length + end + END_OF_TURN.length) : text.trimEnd() + END_OF_TURN;
  return encode(`${closed}\n<start_of_turn>model\n`);
}

function notUserTurn(docName: string | undefined, role: string): LatentDiffError {
  return new LatentDiffError(docName, `the chat ends with a "${role}" turn, not a user turn: the model answers a chat that ends with a user turn (add one); ${HOW_TO_CONTINUE}`, 'not-a-user-turn');
}
