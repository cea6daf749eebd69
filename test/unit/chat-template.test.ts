import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatentDiffError } from '../../extension/engine/errors';
import { ChatTemplate, chatTemplateFor } from '../../extension/engine/text/chat-template';

/** Gemma 2's format written out by hand (method.md 8), the reference for the Jinja template. */
function expected(messages: { role: string; content: string }[], generationPrompt = false): string {
  let s = '<bos>';
  for (const m of messages) s += `<start_of_turn>${m.role === 'assistant' ? 'model' : m.role}\n${m.content.trim()}<end_of_turn>\n`;
  return generationPrompt ? s + '<start_of_turn>model\n' : s;
}

test('the built-in template renders Gemma 2 turns, trimming contents and writing assistant as model', () => {
  const messages = [
    { role: 'user', content: '  What is 2+2?\n\n' },
    { role: 'assistant', content: '\t4 {{ not jinja }} {% raw %}' },
    { role: 'user', content: 'Thanks — ありがとう 😀 \u00a0' },
    { role: 'model', content: '' },
  ];
  const t = chatTemplateFor();
  assert.equal(t.render(messages), expected(messages));
  assert.equal(t.render(messages, { addGenerationPrompt: true }), expected(messages, true));
  assert.ok(t.render(messages).includes('<start_of_turn>model\n4 {{ not jinja }} {% raw %}<end_of_turn>'));
});

test('a system message is a clear error naming the document', () => {
  const t = chatTemplateFor();
  assert.throws(
    () => t.render([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], { docName: 'chat.json' }),
    (e: unknown) => e instanceof LatentDiffError && e.file === 'chat.json' && /no system role/.test(e.problem) && /message 1/.test(e.problem),
  );
});

test('a role Gemma does not know is refused by name', () => {
  assert.throws(
    () => chatTemplateFor().render([{ role: 'user', content: 'a' }, { role: 'tool', content: 'b' }]),
    (e: unknown) => e instanceof LatentDiffError && /"tool"/.test(e.problem) && /message 2/.test(e.problem),
  );
});

test('a user template is used as given', () => {
  const t = chatTemplateFor("{% for m in messages %}[{{ m['role'] | upper }}] {{ m['content'] }}\n{% endfor %}", 'my.jinja');
  assert.equal(t.render([{ role: 'user', content: ' x ' }]), '[USER]  x \n');
});

test('a template that does not parse is named', () => {
  assert.throws(
    () => new ChatTemplate('{% for m in messages %}', 'broken.jinja'),
    (e: unknown) => e instanceof LatentDiffError && e.file === 'broken.jinja' && /does not parse/.test(e.problem),
  );
});
