/**
 * Chat templates (method.md 8): the built-in Gemma 2 template, written here, or a user-supplied Jinja text,
 * rendered with @huggingface/jinja.
 */
import { Template } from '@huggingface/jinja';
import { LatentDiffError } from '../errors';

export interface ChatMessage {
  role: string;
  content: string;
}

/**
 * Gemma 2: `<bos>`, then per turn `<start_of_turn>{user|model}\n{content|trim}<end_of_turn>\n`; "assistant" is
 * written as "model"; the optional generation prompt is `<start_of_turn>model\n`. There is no system role.
 * Unlike the official template this one does not insist on strictly alternating user/model turns, and it
 * refuses roles Gemma does not know instead of writing them out.
 */
export const GEMMA2_CHAT_TEMPLATE =
  '{{ bos_token }}' +
  '{% for message in messages %}' +
  "{% if message['role'] == 'system' %}" +
  "{{ raise_exception('Gemma 2 has no system role (message ' ~ loop.index ~ ' has role \"system\"): put the instructions into the first user turn') }}" +
  "{% elif message['role'] == 'assistant' or message['role'] == 'model' %}{% set role = 'model' %}" +
  "{% elif message['role'] == 'user' %}{% set role = 'user' %}" +
  "{% else %}{{ raise_exception('Gemma 2 knows the roles user, assistant and model only (message ' ~ loop.index ~ ' has role \"' ~ message['role'] ~ '\")') }}" +
  '{% endif %}' +
  "<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n" +
  '{% endfor %}' +
  "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}";

export const GEMMA2_TEMPLATE_NAME = 'built-in Gemma 2 chat template';

export interface RenderOptions {
  addGenerationPrompt?: boolean;
  /** Names the conversation's source (the document) in errors. */
  docName?: string;
}

export class ChatTemplate {
  private readonly template: Template;

  /** Throws LatentDiffError naming `name` when the text does not parse as a Jinja template. */
  constructor(readonly source: string, readonly name: string) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new LatentDiffError(name, `the chat template does not parse: ${(e as Error).message}`, 'bad-chat-template');
    }
  }

  /**
   * Renders a conversation. A failure (the template's raise_exception, such as Gemma's missing system role,
   * or a template error on this input) is a LatentDiffError naming the document and the template.
   */
  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    try {
      return this.template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        bos_token: '<bos>',
        eos_token: '<eos>',
        add_generation_prompt: opts.addGenerationPrompt ?? false,
      });
    } catch (e) {
      throw new LatentDiffError(opts.docName, `the ${this.name} cannot render this conversation: ${(e as Error).message}`, 'chat-template-error');
    }
  }
}

let builtIn: ChatTemplate | undefined;

/** The built-in Gemma 2 template (parsed once), or `source` (a user template) when given. */
/**
 * The one rule for a bundle's chat template, used by analysis and statistics alike: bundle.json's
 * `tokenizer.chatTemplate` decides (a built-in by name, or a Jinja file); only when it is absent does
 * tokenizer_config.json's `chat_template` count. The bundle loader resolves that into `source`.
 */
export function bundleChatTemplate(source: { builtin: string } | { text: string; file: string }): ChatTemplate {
  return 'builtin' in source ? chatTemplateFor() : chatTemplateFor(source.text, source.file);
}

export function chatTemplateFor(source?: string, name = 'chat template'): ChatTemplate {
  if (source !== undefined) return new ChatTemplate(source, name);
  builtIn ??= new ChatTemplate(GEMMA2_CHAT_TEMPLATE, GEMMA2_TEMPLATE_NAME);
  return builtIn;
}
