import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatentDiffError } from '../../extension/engine/errors';
import { bundleInfo, loadBundle } from '../../extension/engine/bundle/bundle';
import { DT } from '../../extension/engine/graphs/onnx-builder';
import { writeBundleFixture, writeDLCrosscoder, writeOnnx, type BundleFixture } from './bundle-fixtures';
import { latentDiffErrorFrom } from '../support/errors';

const made: string[] = [];
after(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A valid bundle, then `change` breaks it (edits bundle.json's object and/or the folder). */
function bundle(change: (json: Record<string, any>, dir: string) => void = () => {}): BundleFixture {
  const fx = writeBundleFixture('bundle');
  made.push(fx.dir);
  change(fx.json, fx.dir);
  writeFileSync(join(fx.dir, 'bundle.json'), JSON.stringify(fx.json));
  return fx;
}

function rejects(dir: string, file: string, pattern: RegExp): LatentDiffError {
  const caught = latentDiffErrorFrom(() => loadBundle(dir));
  assert.ok(caught.message.includes(file), `"${caught.message}" should name ${file}`);
  assert.match(caught.message, pattern);
  return caught;
}

test('happy path: every part resolved and checked', () => {
  const { dir } = bundle();
  const b = loadBundle(dir);
  assert.equal(b.dir, dir);
  assert.equal(b.file, join(dir, 'bundle.json'));
  assert.equal(b.schemaVersion, '1.0');
  assert.equal(b.name, 'fixture');
  assert.equal(b.layer, 1);
  assert.equal(b.dModel, 8);
  assert.equal(b.contextWindow, 128);
  assert.ok(b.base.kind === 'onnx' && b.chat.kind === 'onnx');
  assert.equal(b.base.path, join(dir, 'base.onnx'));
  assert.equal(b.base.output, 'resid');
  assert.equal(b.base.inputIds, 'input_ids');
  assert.equal(b.base.attentionMask, 'attention_mask');
  assert.equal(b.chat.attentionMask, undefined);
  assert.deepEqual(b.base.signature.outputs, [{ name: 'resid', elemType: DT.FLOAT, dims: ['batch', 'seq', 8] }]);
  assert.deepEqual(b.chat.signature.inputs.map((i) => i.name), ['input_ids']);
  assert.deepEqual(b.tokenizer, { json: join(dir, 'tokenizer.json'), config: join(dir, 'tokenizer_config.json'), chatTemplate: { builtin: 'gemma2' } });
  assert.equal(b.crosscoder.kind, 'batchtopk');
  assert.equal(b.crosscoder.dir, join(dir, 'crosscoder'));
  assert.equal(b.stats, join(dir, 'feature_df.csv'));
  assert.equal(b.examples, undefined);
  assert.deepEqual(bundleInfo(b), {
    name: 'fixture', dir, layer: 1, dModel: 8, dictSize: 32, baseModel: 'fixture-base', chatModel: 'fixture-chat',
    crosscoderKind: 'batchtopk', crosscoderIdentity: b.crosscoder.identity, crosscoderFormerIdentities: b.crosscoder.formerIdentities,
  });
  // bundle.json itself may be given instead of its folder.
  assert.equal(loadBundle(join(dir, 'bundle.json')).crosscoder.identity, b.crosscoder.identity);
});

test('variants: minor version bump, defaults, absolute paths, .jinja template, template from tokenizer_config, HF folder', () => {
  const { dir } = bundle((j, d) => {
    j.schemaVersion = '1.7';
    delete j.name;
    delete j.contextWindow;
    delete j.stats;
    j.crosscoder = join(d, 'crosscoder');
    writeFileSync(join(d, 'chat.jinja'), '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}');
    j.tokenizer.chatTemplate = 'chat.jinja';
    mkdirSync(join(d, 'hf-chat'));
    writeFileSync(join(d, 'hf-chat', 'config.json'), JSON.stringify({ hidden_size: 8, num_hidden_layers: 4 }));
    writeFileSync(join(d, 'hf-chat', 'model.safetensors'), '');
    j.chat = { name: 'google/gemma-2-2b-it', hf: 'hf-chat' };
  });
  const b = loadBundle(dir);
  assert.equal(b.schemaVersion, '1.7');
  assert.equal(b.name, dir.split('/').pop());
  assert.equal(b.contextWindow, 1024);
  assert.equal(b.stats, undefined);
  assert.deepEqual(b.chat, { kind: 'hf', name: 'google/gemma-2-2b-it', dir: join(dir, 'hf-chat') });
  assert.deepEqual(b.tokenizer.chatTemplate, { text: '{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}', file: join(dir, 'chat.jinja') });

  const fromConfig = bundle((j, d) => {
    delete j.tokenizer.chatTemplate;
    writeFileSync(join(d, 'tokenizer_config.json'), JSON.stringify({ chat_template: '{{ messages }}' }));
  });
  assert.deepEqual(loadBundle(fromConfig.dir).tokenizer.chatTemplate, { text: '{{ messages }}', file: join(fromConfig.dir, 'tokenizer_config.json') });
});

test('bundle.json that is missing, not JSON, or of an unknown major version', () => {
  const empty = bundle();
  rmSync(join(empty.dir, 'bundle.json'));
  rejects(empty.dir, join(empty.dir, 'bundle.json'), /bundle.json not found/);

  const { dir } = bundle();
  writeFileSync(join(dir, 'bundle.json'), '{ "schemaVersion": "1.0", "layer": 13,, }');
  rejects(dir, join(dir, 'bundle.json'), /not valid JSON \(.+\)/);
  writeFileSync(join(dir, 'bundle.json'), '[1, 2]');
  rejects(dir, join(dir, 'bundle.json'), /expected a JSON object/);

  const v2 = bundle((j) => { j.schemaVersion = '2.0'; });
  const e = rejects(v2.dir, join(v2.dir, 'bundle.json'), /bundle schema 2\.0 is not supported: this version of Latent Diff reads schema 1\.x/);
  assert.equal(e.code, 'unsupported-version');
  rejects(bundle((j) => { j.schemaVersion = 'one'; }).dir, 'bundle.json', /field "schemaVersion": should look like "1.0"/);
  rejects(bundle((j) => { delete j.schemaVersion; }).dir, 'bundle.json', /field "schemaVersion": is missing/);
});

test('missing and ill-typed fields name the field', () => {
  const cases: [(j: Record<string, any>) => void, RegExp][] = [
    [(j) => delete j.layer, /field "layer": is missing/],
    [(j) => { j.dModel = '64'; }, /field "dModel": should be an integer >= 1, got "64"/],
    [(j) => { j.layer = -1; }, /field "layer": should be an integer >= 0, got -1/],
    [(j) => { j.contextWindow = 1.5; }, /field "contextWindow": should be an integer >= 1/],
    [(j) => delete j.base, /field "base": is missing/],
    [(j) => { j.chat = 'chat.onnx'; }, /field "chat": should be an object/],
    [(j) => delete j.base.output, /field "base.output": is missing/],
    [(j) => delete j.chat.inputs.inputIds, /field "chat.inputs.inputIds": is missing/],
    [(j) => { j.base.inputs.attentionMask = 3; }, /field "base.inputs.attentionMask": should be a non-empty string, got 3/],
    [(j) => delete j.base.onnx, /field "base": needs "onnx" \(an ONNX file\) or "hf"/],
    [(j) => { j.base.hf = '.'; }, /field "base": give either "onnx" or "hf", not both/],
    [(j) => delete j.tokenizer, /field "tokenizer": is missing/],
    [(j) => delete j.tokenizer.chatTemplate, /field "tokenizer.chatTemplate": is missing and .*tokenizer_config.json has no chat_template/],
    [(j) => { j.tokenizer.chatTemplate = 'builtin:llama3'; }, /unknown built-in template "builtin:llama3"; built in: builtin:gemma2/],
    [(j) => { j.crosscoder = 7; }, /field "crosscoder": should be a non-empty string/],
  ];
  for (const [change, pattern] of cases) {
    const { dir } = bundle(change);
    const e = rejects(dir, join(dir, 'bundle.json'), pattern);
    assert.equal(e.file, join(dir, 'bundle.json'));
  }
});

test('missing files name the field and the resolved path', () => {
  const cases: [string, (j: Record<string, any>) => void, RegExp][] = [
    ['base.onnx', (j) => { j.base.onnx = 'nope.onnx'; }, /field "base.onnx": file not found: .*nope.onnx/],
    ['tokenizer.json', (j) => { j.tokenizer.json = 'missing/tokenizer.json'; }, /field "tokenizer.json": file not found: .*missing\/tokenizer.json/],
    ['crosscoder', (j) => { j.crosscoder = 'cc-gone'; }, /field "crosscoder": folder not found: .*cc-gone/],
    ['stats', (j) => { j.stats = 'feature_df_gone.csv'; }, /field "stats": file not found/],
    ['examples', (j) => { j.examples = 'examples.db'; }, /field "examples": file not found: .*examples.db/],
    ['template', (j) => { j.tokenizer.chatTemplate = 'template.jinja'; }, /field "tokenizer.chatTemplate": file not found/],
    ['folder-as-file', (j) => { j.base.onnx = '.'; }, /field "base.onnx": .* is a folder, expected a file/],
  ];
  for (const [what, change, pattern] of cases) {
    const { dir } = bundle(change);
    const e = rejects(dir, join(dir, 'bundle.json'), pattern);
    assert.equal(e.code, 'not-found', what);
  }
});

test('crosscoder width that does not match the models names both files and both numbers', () => {
  const { dir } = bundle((_j, d) => {
    rmSync(join(d, 'crosscoder'), { recursive: true });
    writeDLCrosscoder(join(d, 'crosscoder'), { d: 12 });
  });
  const e = rejects(dir, join(dir, 'bundle.json'), /dModel is 8 but the crosscoder .*crosscoder\/model.safetensors has d_model 12/);
  assert.equal(e.code, 'bad-shape');
  // Errors inside the crosscoder folder come through unchanged, naming the checkpoint file.
  const broken = bundle((_j, d) => writeDLCrosscoder(join(d, 'crosscoder'), { tensors: { 'decoder.bias': null } }));
  rejects(broken.dir, join(broken.dir, 'crosscoder', 'model.safetensors'), /missing tensor "decoder.bias"/);
});

test('ONNX models: missing output or input, wrong width, wrong types, not ONNX, missing external data', () => {
  const onnxCases: [(d: string) => void, RegExp][] = [
    [(d) => writeOnnx(join(d, 'base.onnx'), 8, { output: 'hidden' }), /has no output named "resid" \(outputs: "hidden"\); fix "base.output" in .*bundle.json/],
    [(d) => writeOnnx(join(d, 'base.onnx'), 8, { inputs: ['input_ids'] }), /has no input named "attention_mask" \(inputs: "input_ids"\); fix "base.inputs.attentionMask"/],
    [(d) => writeOnnx(join(d, 'base.onnx'), 8, { outDims: ['batch', 'seq', 16] }), /output "resid" has width 16 but .*bundle.json says dModel 8/],
    [(d) => writeOnnx(join(d, 'base.onnx'), 8, { outDims: ['seq', 8] }), /output "resid" has shape \[seq, 8\]; expected \[batch, seq, dModel\]/],
    [(d) => writeOnnx(join(d, 'base.onnx'), 8, { outType: DT.INT64 }), /output "resid" has element type 7; the residual stream must be floating point/],
    [(d) => writeOnnx(join(d, 'base.onnx'), 8, { idsType: DT.FLOAT }), /input "input_ids" has element type 1; token ids must be int64 or int32/],
    [(d) => writeFileSync(join(d, 'base.onnx'), '{"not": "onnx"}'), /not an ONNX model/],
    [(d) => writeFileSync(join(d, 'base.onnx'), ''), /not an ONNX model \(empty file\)/],
    [(d) => writeFileSync(join(d, 'base.onnx'), Buffer.from([0x08, 0x08])), /not an ONNX model \(no graph\)/],
    [(d) => writeOnnx(join(d, 'base.onnx'), 8, { externalFile: 'weights.bin' }), /its weights are in "weights.bin", which is missing/],
  ];
  for (const [change, pattern] of onnxCases) {
    const { dir } = bundle((_j, d) => change(d));
    const e = rejects(dir, join(dir, 'base.onnx'), pattern);
    assert.equal(e.file, join(dir, 'base.onnx'));
  }
  // Symbolic widths are accepted; external data that exists is fine.
  const ok = bundle((_j, d) => {
    writeOnnx(join(d, 'chat.onnx'), 8, { inputs: ['input_ids'], outDims: ['b', 's', 'hidden'], externalFile: 'w.bin' });
    writeFileSync(join(d, 'w.bin'), Buffer.alloc(16 * 8 * 4));
  });
  const b = loadBundle(ok.dir);
  assert.ok(b.chat.kind === 'onnx');
  assert.deepEqual(b.chat.signature.externalDataFiles, ['w.bin']);
});

test('Hugging Face model folders: config.json present, weights present, width and depth agree', () => {
  const hf = (config: unknown, weights = true) => bundle((j, d) => {
    mkdirSync(join(d, 'hf'));
    if (config) writeFileSync(join(d, 'hf', 'config.json'), JSON.stringify(config));
    if (weights) writeFileSync(join(d, 'hf', 'model-00001-of-00002.safetensors'), '');
    j.base = { name: 'google/gemma-2-2b', hf: 'hf' };
  }).dir;
  let dir = hf(null);
  rejects(dir, join(dir, 'bundle.json'), /field "base.hf": .*hf has no config.json/);
  dir = hf({ hidden_size: 8 }, false);
  rejects(dir, join(dir, 'bundle.json'), /has no \*\.safetensors weights/);
  dir = hf({ hidden_size: 2304, num_hidden_layers: 26 });
  rejects(dir, join(dir, 'hf', 'config.json'), /hidden_size is 2304 but .*bundle.json says dModel 8/);
  dir = hf({ text_config: { hidden_size: 8, num_hidden_layers: 1 } });
  rejects(dir, join(dir, 'hf', 'config.json'), /the model has 1 layers but .*bundle.json asks for the residual after block 1/);
  dir = hf({ hidden_size: 8, num_hidden_layers: 26 });
  assert.equal(loadBundle(dir).base.kind, 'hf');
});

test('the process survives every bad bundle: each is a thrown LatentDiffError, never a crash', () => {
  const bad = [
    bundle((j) => { j.schemaVersion = '3.1'; }).dir,
    bundle((j) => delete j.dModel).dir,
    bundle((j) => { j.base.onnx = 'gone.onnx'; }).dir,
    bundle((_j, d) => writeFileSync(join(d, 'base.onnx'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).dir,
    bundle((_j, d) => writeOnnx(join(d, 'chat.onnx'), 8, { output: 'x' })).dir,
    bundle((_j, d) => writeFileSync(join(d, 'crosscoder', 'model.safetensors'), Buffer.from('ffffffffffffffff', 'hex'))).dir,
    bundle((_j, d) => writeFileSync(join(d, 'crosscoder', 'model.safetensors'), Buffer.alloc(3))).dir,
    bundle((_j, d) => writeDLCrosscoder(join(d, 'crosscoder'), { d: 9 })).dir,
  ];
  const nonJson = bundle().dir;
  writeFileSync(join(nonJson, 'bundle.json'), '\u0000\u0001garbage');
  bad.push(nonJson);
  // Run in a child process, so an abort or uncaught error would show as a failed exit, not a failed assertion here.
  const script = `
    const { loadBundle } = require(${JSON.stringify(require.resolve('../../extension/engine/bundle/bundle'))});
    const { LatentDiffError } = require(${JSON.stringify(require.resolve('../../extension/engine/errors'))});
    const out = [];
    for (const dir of ${JSON.stringify(bad)}) {
      try { loadBundle(dir); out.push({ dir, ok: true }); }
      catch (e) { out.push({ dir, typed: e instanceof LatentDiffError, message: String(e.message) }); }
    }
    process.stdout.write(JSON.stringify(out));`;
  const stdout = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
  const results = JSON.parse(stdout) as { dir: string; ok?: boolean; typed?: boolean; message?: string }[];
  assert.equal(results.length, bad.length);
  for (const r of results) {
    assert.equal(r.ok, undefined, `${r.dir} loaded although it is broken`);
    assert.equal(r.typed, true, `${r.dir}: ${r.message}`);
    assert.ok(r.message!.includes(r.dir), r.message);
  }
});
