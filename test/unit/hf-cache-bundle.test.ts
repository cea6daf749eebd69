/**
 * "Open Bundle..." from a local Hugging Face cache (engine/bundle/hf-cache.ts), on a fake cache made here in
 * the hub layout (models--org--name/refs/main, snapshots/<revision>/): it pairs the cached Gemma 2 base model
 * with its -it sibling, finds the crosscoders that fit them and their diffing-stats-* dataset, and the
 * bundle.json it writes is accepted by the engine's own bundle loader. Nothing is downloaded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hfCacheBundles, hfHubDir, scanHfCache, writeHfCacheBundle } from '../../extension/engine/bundle/hf-cache';
import { bundleInfo, loadBundle } from '../../extension/engine/bundle/bundle';
import { tempDir, writeDLCrosscoder } from './bundle-fixtures';

const L1 = 'gemma-2-2b-crosscoder-l13-mu4.1e-02-lr1e-04';
const TOPK = 'gemma-2-2b-L13-k100-lr1e-04-local-shuffling-CCLoss';

function snapshot(hub: string, kind: 'models' | 'datasets', repo: string, revision: string, main = true): string {
  const root = join(hub, `${kind}--${repo.replace('/', '--')}`);
  const dir = join(root, 'snapshots', revision);
  mkdirSync(dir, { recursive: true });
  if (main) {
    mkdirSync(join(root, 'refs'), { recursive: true });
    writeFileSync(join(root, 'refs', 'main'), revision);
  }
  return dir;
}

function gemma(hub: string, repo: string, revision: string, hiddenSize: number, withTokenizer: boolean): string {
  const dir = snapshot(hub, 'models', repo, revision);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gemma2', hidden_size: hiddenSize, num_hidden_layers: 26 }));
  writeFileSync(join(dir, 'model-00001-of-00001.safetensors'), 'placeholder weights');
  if (withTokenizer) {
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    writeFileSync(join(dir, 'tokenizer_config.json'), '{}');
  }
  return dir;
}

function fakeCache() {
  const hub = join(tempDir('latent-diff-hf-cache-'), 'hub');
  // An older snapshot without refs/main pointing at it: the refs/main one must win.
  gemma(hub, 'google/gemma-2-2b', 'old0000', 8, false);
  const base = gemma(hub, 'google/gemma-2-2b', 'b1b1b1', 8, false);
  const chat = gemma(hub, 'google/gemma-2-2b-it', 'c2c2c2', 8, true);
  const l1 = writeDLCrosscoder(snapshot(hub, 'models', `science-of-finetuning/${L1}`, 'x1'), { d: 8, D: 32 });
  const topk = writeDLCrosscoder(snapshot(hub, 'models', `science-of-finetuning/${TOPK}`, 'x2'), { d: 8, D: 48, batchTopK: { threshold: 0.5, k: 4 }, trainerConfig: { trainer: { dict_class: 'BatchTopKCrossCoder' } } });
  writeDLCrosscoder(snapshot(hub, 'models', 'someone/crosscoder-for-another-model-l13', 'x3'), { d: 4, D: 16 });
  const stats = snapshot(hub, 'datasets', `science-of-finetuning/diffing-stats-${L1}`, 's1');
  writeFileSync(join(stats, 'feature_df.csv'), 'latent,dec_norm_diff\n0,0.5\n');
  writeFileSync(join(stats, 'examples.db'), 'placeholder');
  const other = snapshot(hub, 'models', 'someone/llama', 'l1');
  writeFileSync(join(other, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: 8, num_hidden_layers: 4 }));
  writeFileSync(join(other, 'model.safetensors'), 'not a crosscoder');
  return { hub, base, chat, l1, topk, stats };
}

test('the cache folder comes from HF_HUB_CACHE, then HF_HOME/hub, then ~/.cache/huggingface/hub', () => {
  assert.equal(hfHubDir({ HF_HUB_CACHE: '/a/hub', HF_HOME: '/b' }), '/a/hub');
  assert.equal(hfHubDir({ HF_HOME: '/b' }), join('/b', 'hub'));
  assert.match(hfHubDir({}), /\.cache[\\/]huggingface[\\/]hub$/);
});

test('scanning lists the cached repositories with the refs/main snapshot', () => {
  const c = fakeCache();
  const repos = scanHfCache(c.hub);
  assert.equal(repos.find((r) => r.repo === 'google/gemma-2-2b')?.dir, c.base);
  assert.deepEqual(repos.filter((r) => r.kind === 'dataset').map((r) => r.repo), [`science-of-finetuning/diffing-stats-${L1}`]);
});

test('one bundle per fitting crosscoder, with its diffing-stats files; the engine loads what is written', () => {
  const c = fakeCache();
  const bundles = hfCacheBundles(c.hub);
  assert.deepEqual(bundles.map((b) => b.json.crosscoder).sort(), [c.l1, c.topk].sort(), 'the d=4 crosscoder and the llama model are not offered');
  const l1 = bundles.find((b) => b.json.crosscoder === c.l1)!;
  assert.equal(l1.json.layer, 13);
  assert.equal(l1.json.dModel, 8);
  assert.deepEqual(l1.json.base, { name: 'google/gemma-2-2b', hf: c.base });
  assert.deepEqual(l1.json.chat, { name: 'google/gemma-2-2b-it', hf: c.chat });
  assert.equal(l1.json.stats, join(c.stats, 'feature_df.csv'));
  assert.equal(l1.json.examples, join(c.stats, 'examples.db'));
  const topk = bundles.find((b) => b.json.crosscoder === c.topk)!;
  assert.equal(topk.json.stats, undefined, 'no statistics are cached for the BatchTopK crosscoder');

  const out = tempDir('latent-diff-hf-bundles-');
  for (const b of bundles) {
    const info = bundleInfo(loadBundle(writeHfCacheBundle(b, out)));
    assert.equal(info.layer, 13);
    assert.equal(info.dictSize, b === l1 ? 32 : 48);
    assert.equal(info.crosscoderKind, b === l1 ? 'relu' : 'batchtopk');
    assert.equal(info.baseModel, 'google/gemma-2-2b');
  }
});

test('a missing cache folder is a clear error naming it', () => {
  assert.throws(() => hfCacheBundles('/nonexistent/hub'), /\/nonexistent\/hub: no Hugging Face cache here/);
});
