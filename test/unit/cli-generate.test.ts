/**
 * The built CLI's `generate` (dist/cli.js, made by `npm run build`) on the demo bundle: the JSON of issue 8
 * key for key, the ground truth's greedy and steered answers (models/demo/ground-truth.json "behaviour"),
 * and the exit codes of `analyze` (1 for bad input, 2 for bad usage, 0 for --help).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const behaviour = JSON.parse(readFileSync(join(ROOT, 'models/demo/ground-truth.json'), 'utf8')).behaviour;
const dir = mkdtempSync(join(tmpdir(), 'ld-cli-gen-'));
const chatFile = join(dir, 'chat.json');
writeFileSync(chatFile, JSON.stringify({ messages: [{ role: 'user', content: 'Why is the sky blue?' }] }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT });
}

test('generate --json prints the issue-8 JSON with the ground-truth answers, default and steered', () => {
  const end = behaviour.steering[0];
  const r = cli('generate', chatFile, '--json', '--model', 'both', '--steer', `${end.latent}:${end.strength}`, '--provider', 'cpu');
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(report), ['provider', 'providerNote', 'promptIds', 'outputs']);
  assert.equal(report.providerNote, null);
  assert.equal(report.provider, 'cpu');
  assert.deepEqual(report.promptIds.slice(-3), [106, 2516, 108]);
  assert.deepEqual(report.outputs.map((o: { model: string; steer: unknown[] }) => [o.model, o.steer.length]), [['chat', 0], ['chat', 1], ['base', 0], ['base', 1]]);
  for (const o of report.outputs) {
    assert.deepEqual(Object.keys(o), ['model', 'steer', 'ids', 'text', 'tokens']);
    assert.deepEqual(o.tokens.map((t: { id: number }) => t.id), o.ids);
    for (const t of o.tokens) {
      assert.deepEqual(Object.keys(t), ['id', 'text', 'top']);
      for (const l of t.top) assert.deepEqual(Object.keys(l), ['latent', 'act']);
    }
  }
  assert.deepEqual(report.outputs[1].steer, [{ latent: end.latent, strength: end.strength }]);
  assert.deepEqual(report.outputs[0].ids, behaviour.chatAnswer.ids);
  assert.equal(report.outputs[0].text, behaviour.chatAnswer.text);
  assert.deepEqual(report.outputs[1].ids, end.ids);
  assert.deepEqual(report.outputs[2].ids, behaviour.baseAnswer.ids);
});

test('generate streams readable text; --latent adds activations; errors and usage exit like analyze', () => {
  const turn = behaviour.steering[1];
  const r = cli('generate', chatFile, '--steer', `${turn.latent}:${turn.strength}`, '--latent', String(turn.latent), '--max-new', '10');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.includes(`== chat ==\n${behaviour.chatAnswer.text}<end_of_turn>`), r.stdout);
  assert.ok(r.stdout.includes(`${behaviour.baseAnswer.text}<end_of_turn>`), 'steering the model-turn latent down gives the base answer');
  assert.match(r.stdout, /tokens\/s/);
  const js = JSON.parse(cli('generate', chatFile, '--json', '--latent', '3', '--max-new', '2').stdout);
  assert.equal(js.outputs[0].tokens[0].acts.length, 1);

  const modelTurn = join(dir, 'model-turn.json');
  writeFileSync(modelTurn, JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }] }));
  const bad = cli('generate', modelTurn);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /model-turn\.json: the chat ends with a "assistant" turn, not a user turn.*--continue/);
  assert.equal(cli('generate', chatFile, '--steer', '3:Infinity').status, 1);
  assert.equal(cli('generate', chatFile, '--steer', '99999:1').status, 1);
  assert.equal(cli('generate', join(dir, 'missing.json')).status, 1);
  for (const args of [['--steer', '3'], ['--model', 'other'], ['--steer-on', 'never'], ['--temperature', 'hot'], ['--max-new', '0'], []]) {
    const u = cli('generate', ...(args.length ? [chatFile, ...args] : []));
    assert.equal(u.status, 2, `${args.join(' ')}: ${u.stderr}`);
  }
  const help = cli('generate', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--steer J:S/);
});
