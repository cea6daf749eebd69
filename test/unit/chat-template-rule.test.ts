/**
 * One chat-template rule for a bundle: bundle.json's "chatTemplate" decides, for `analyze` (the built CLI)
 * and for the statistics job's tokenisation alike, even when tokenizer_config.json carries another
 * chat_template. Checked against the built-in Gemma 2 template's rendering encoded with the real tokenizer,
 * and a bundle without "chatTemplate" uses tokenizer_config.json's template in both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { recordIds } from '../../extension/engine/analysis/stats/sequences';
import { bundleChatTemplate, chatTemplateFor, ChatTemplate } from '../../extension/engine/text/chat-template';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { demoBundleJsonElsewhere, tempDir } from './bundle-fixtures';

const ROOT = resolve(__dirname, '../..');
const DEMO = join(ROOT, 'models/demo');
const SHOUTING = "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] | upper }}<end_of_turn>\n{% endfor %}";
const messages = [{ role: 'user', content: 'what is the capital of france?' }, { role: 'assistant', content: 'paris, of course.' }];

function bundleWithConfigTemplate(dir: string, chatTemplate: string | undefined): string {
  mkdirSync(dir, { recursive: true });
  const config = JSON.parse(readFileSync(join(DEMO, 'tokenizer_config.json'), 'utf8'));
  config.chat_template = SHOUTING;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  const json = demoBundleJsonElsewhere(DEMO);
  json.tokenizer = { json: join(DEMO, 'tokenizer.json'), config: join(dir, 'tokenizer_config.json'), ...(chatTemplate ? { chatTemplate } : {}) };
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(json));
  return dir;
}

function analyzedIds(bundle: string, chat: string): number[] {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'analyze', chat, '--json', '--bundle', bundle, '--provider', 'cpu'], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { tokens: { id: number }[] }).tokens.map((t) => t.id);
}

test('analyze and statistics tokenise a chat with the template bundle.json names', () => {
  const dir = tempDir('template-rule');
  const chat = join(dir, 'chat.json');
  writeFileSync(chat, JSON.stringify({ messages }));
  const tok = GemmaTokenizer.fromFiles(join(DEMO, 'tokenizer.json'), join(DEMO, 'tokenizer_config.json'));
  const encode = (t: ChatTemplate) => tok.encode(t.render(messages), { addBos: false });
  const builtinIds = encode(chatTemplateFor());
  const shoutingIds = encode(new ChatTemplate(SHOUTING, 'shouting'));
  assert.notDeepEqual(builtinIds, shoutingIds, 'the two templates tokenise differently');

  for (const [name, setting, expected] of [['builtin', 'builtin:gemma2', builtinIds], ['from-config', undefined, shoutingIds]] as const) {
    const bundleDir = bundleWithConfigTemplate(join(dir, name), setting);
    assert.deepEqual(analyzedIds(bundleDir, chat), expected, `${name}: analyze`);
    const bundle = loadBundle(bundleDir);
    const record = { kind: 'messages' as const, messages, file: chat, line: 1 };
    assert.deepEqual(recordIds(tok, bundleChatTemplate(bundle.tokenizer.chatTemplate), record), expected, `${name}: statistics`);
  }
});
