/**
 * package.json's VS Code contributions against the code and each other: every %key% resolves in
 * package.nls.json (and no key is unused), the highlight colours are exactly the ids and defaults the
 * decorations use (host/highlight-colors.ts), every command named by a menu, keybinding or walkthrough is
 * declared and registered in extension/host/, every context key a `when` clause reads is one the extension
 * sets, walkthrough media exist, and weight paths / the provider are machine-scoped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { highlightColors } from '../../extension/host/highlight-colors';

const ROOT = resolve(import.meta.dirname, '../..');
const raw = readFileSync(join(ROOT, 'package.json'), 'utf8');
const pkg = JSON.parse(raw);
const nls = JSON.parse(readFileSync(join(ROOT, 'package.nls.json'), 'utf8')) as Record<string, string>;
const c = pkg.contributes;

test('every %key% in package.json is in package.nls.json, and every nls key is used', () => {
  const used = new Set([...raw.matchAll(/"%([^%"]+)%"/g)].map((m) => m[1]));
  for (const k of used) assert.ok(typeof nls[k] === 'string' && nls[k].length > 0, `missing nls key ${k}`);
  assert.deepEqual(Object.keys(nls).filter((k) => !used.has(k)), []);
  for (const cmd of c.commands) assert.match(cmd.title, /^%command\./, `${cmd.command} title is localised`);
});

test('the contributed highlight colours are the ones the decorations use, weakest to strongest', () => {
  const contributed = (c.colors as { id: string; defaults: Record<string, string> }[]).filter((x) => x.id.startsWith('latentDiff.highlight'));
  assert.deepEqual(contributed.map((x) => ({ id: x.id, defaults: x.defaults })), highlightColors().map((x) => ({ id: x.id, defaults: x.defaults })));
  for (const x of highlightColors()) {
    const alpha = (hex: string) => parseInt(hex.slice(7, 9), 16);
    if (x.bucket > 1) assert.ok(alpha(x.defaults.dark) > alpha(highlightColors().find((y) => y.hue === x.hue && y.bucket === x.bucket - 1)!.defaults.dark));
    assert.ok(alpha(x.defaults.highContrast) > alpha(x.defaults.dark), 'high contrast is stronger');
  }
  const css = readFileSync(join(ROOT, 'media/webview.css'), 'utf8');
  for (const x of c.colors as { id: string }[]) {
    if (x.id.startsWith('latentDiff.verdict')) assert.ok(css.includes(`--vscode-${x.id.replace('.', '-')}`), `${x.id} is used by the webviews`);
  }
});

test('menus, keybindings and walkthroughs name declared, registered commands and known context keys', () => {
  const declared = new Set((c.commands as { command: string }[]).map((x) => x.command));
  const hostDir = join(ROOT, 'extension/host');
  const source = readdirSync(hostDir).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(hostDir, f), 'utf8')).join('\n');
  for (const id of declared) assert.ok(source.includes(`'${id}'`), `${id} is registered in extension/host/`);
  const named = [
    ...Object.values(c.menus as Record<string, { command: string }[]>).flat().map((m) => m.command),
    ...(c.keybindings as { command: string }[]).map((k) => k.command),
  ];
  for (const id of named) assert.ok(declared.has(id), `${id} is declared`);
  const keysSet = readFileSync(join(ROOT, 'extension/host/context-keys.ts'), 'utf8');
  const whens = [...raw.matchAll(/"when": "([^"]*)"/g)].map((m) => m[1]);
  for (const w of whens) {
    for (const k of w.replace(/==\s*'?[\w.]+'?/g, '').match(/latentDiff\.[A-Za-z]+/g) ?? []) assert.ok(keysSet.includes(`this.set('${k.slice('latentDiff.'.length)}'`), `context key ${k} is set`);
  }
  for (const step of c.walkthroughs[0].steps) {
    assert.ok(existsSync(join(ROOT, step.media.markdown)), step.media.markdown);
    for (const m of nls[step.description.slice(1, -1)].matchAll(/\(command:(latentDiff\.[A-Za-z]+)\)/g)) assert.ok(declared.has(m[1]), m[1]);
  }
});

test('weight paths and the provider are machine settings', () => {
  const props = c.configuration.properties;
  assert.equal(props['latentDiff.provider'].scope, 'machine');
  assert.equal(props['latentDiff.bundlePath'].scope, 'machine-overridable');
});
