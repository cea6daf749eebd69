/**
 * Bundles from a local Hugging Face cache (HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub, the
 * `models--org--name/snapshots/<revision>/` layout): Gemma 2 base/IT model pairs, crosscoders trained on
 * them and their `diffing-stats-*` statistics datasets. Only reads what is there; never downloads.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadCrosscoderCheckpoint } from './crosscoder-checkpoint';
import { isJsonObject, readJsonObject } from './json-file';
import { LatentDiffError } from '../errors';

export interface CachedRepo {
  kind: 'model' | 'dataset';
  /** org/name */
  repo: string;
  /** The snapshot folder in use: refs/main's revision, else the newest snapshot. */
  dir: string;
}

export interface HfCacheBundle {
  /** Folder-safe name for the written bundle. */
  id: string;
  name: string;
  json: Record<string, unknown>;
}

export function hfHubDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, 'hub');
  return join(homedir(), '.cache', 'huggingface', 'hub');
}

function snapshotOf(repoDir: string): string | undefined {
  const snapshots = join(repoDir, 'snapshots');
  if (!existsSync(snapshots)) return undefined;
  const main = join(repoDir, 'refs', 'main');
  if (existsSync(main)) {
    const dir = join(snapshots, readFileSync(main, 'utf8').trim());
    if (existsSync(dir)) return dir;
  }
  const all = readdirSync(snapshots).map((n) => join(snapshots, n)).filter((p) => statSync(p).isDirectory());
  return all.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** Every model and dataset repository with a snapshot in the cache. */
export function scanHfCache(hubDir: string): CachedRepo[] {
  if (!existsSync(hubDir)) throw new LatentDiffError(hubDir, 'no Hugging Face cache here (set HF_HOME or HF_HUB_CACHE to where it is)', 'not-found');
  const repos: CachedRepo[] = [];
  for (const entry of readdirSync(hubDir).sort()) {
    const m = /^(models|datasets)--([^-].*?)--(.+)$/.exec(entry);
    if (!m) continue;
    const dir = snapshotOf(join(hubDir, entry));
    if (dir) repos.push({ kind: m[1] === 'models' ? 'model' : 'dataset', repo: `${m[2]}/${m[3]}`, dir });
  }
  return repos;
}

const repoName = (repo: string) => repo.slice(repo.indexOf('/') + 1);

function gemma2Config(dir: string): { hiddenSize: number; layers: number } | undefined {
  const file = join(dir, 'config.json');
  if (!existsSync(file) || !readdirSync(dir).some((n) => n.endsWith('.safetensors'))) return undefined;
  const cfg = readJsonObject(file);
  const text = isJsonObject(cfg.text_config) ? cfg.text_config : cfg;
  if (text.model_type !== 'gemma2' || typeof text.hidden_size !== 'number' || typeof text.num_hidden_layers !== 'number') return undefined;
  return { hiddenSize: text.hidden_size, layers: text.num_hidden_layers };
}

/** The layer a crosscoder reads: its config's "layer", else "-l13-" / "-L13-" in the repository name. */
function crosscoderLayer(repo: CachedRepo): number | undefined {
  const cfgFile = join(repo.dir, 'config.json');
  const cfg = existsSync(cfgFile) ? readJsonObject(cfgFile) : {};
  if (typeof cfg.layer === 'number') return cfg.layer;
  const m = /(?:^|[-_])l(\d+)(?:[-_]|$)/i.exec(repoName(repo.repo));
  return m ? Number(m[1]) : undefined;
}

/**
 * One bundle per crosscoder in the cache that fits a cached Gemma 2 base model and its "-it" sibling (same
 * hidden size, enough layers), with its `diffing-stats-<crosscoder name>` dataset when that is cached too.
 */
export function hfCacheBundles(hubDir: string): HfCacheBundle[] {
  const repos = scanHfCache(hubDir);
  const models = new Map(repos.filter((r) => r.kind === 'model').map((r) => [r.repo, r]));
  const pairs: { base: CachedRepo; chat: CachedRepo; hiddenSize: number; layers: number }[] = [];
  for (const base of models.values()) {
    const chat = models.get(`${base.repo}-it`);
    const b = gemma2Config(base.dir);
    const c = chat && gemma2Config(chat.dir);
    if (chat && b && c && b.hiddenSize === c.hiddenSize && existsSync(join(chat.dir, 'tokenizer.json'))) pairs.push({ base, chat, hiddenSize: b.hiddenSize, layers: Math.min(b.layers, c.layers) });
  }
  const bundles: HfCacheBundle[] = [];
  for (const cc of models.values()) {
    if (!existsSync(join(cc.dir, 'model.safetensors')) || gemma2Config(cc.dir)) continue;
    let dModel: number;
    try {
      dModel = loadCrosscoderCheckpoint(cc.dir).dModel;
    } catch {
      continue; // a model.safetensors that is no crosscoder
    }
    const layer = crosscoderLayer(cc);
    const stats = repos.find((r) => r.kind === 'dataset' && repoName(r.repo) === `diffing-stats-${repoName(cc.repo)}` && existsSync(join(r.dir, 'feature_df.csv')));
    for (const p of pairs) {
      if (p.hiddenSize !== dModel || layer === undefined || layer >= p.layers) continue;
      const chatDir = p.chat.dir;
      bundles.push({
        id: `${repoName(p.base.repo)}--${repoName(cc.repo)}`.replace(/[^A-Za-z0-9._-]+/g, '_'),
        name: `${repoName(p.base.repo)} vs ${repoName(p.chat.repo)}, ${repoName(cc.repo)}`,
        json: {
          schemaVersion: '1.0',
          name: `${repoName(p.base.repo)} vs ${repoName(p.chat.repo)}, ${repoName(cc.repo)}`,
          layer,
          dModel,
          contextWindow: 1024,
          base: { name: p.base.repo, hf: p.base.dir },
          chat: { name: p.chat.repo, hf: chatDir },
          tokenizer: {
            json: join(chatDir, 'tokenizer.json'),
            ...(existsSync(join(chatDir, 'tokenizer_config.json')) ? { config: join(chatDir, 'tokenizer_config.json') } : {}),
            chatTemplate: 'builtin:gemma2',
          },
          crosscoder: cc.dir,
          ...(stats ? { stats: join(stats.dir, 'feature_df.csv') } : {}),
          ...(stats && existsSync(join(stats.dir, 'examples.db')) ? { examples: join(stats.dir, 'examples.db') } : {}),
        },
      });
    }
  }
  return bundles;
}

/** Writes the bundle's bundle.json into `parent/<id>/` (atomically) and returns that folder. */
export function writeHfCacheBundle(bundle: HfCacheBundle, parent: string): string {
  const dir = join(parent, bundle.id);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'bundle.json');
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(bundle.json, null, 2)}\n`);
  renameSync(tmp, file);
  return dir;
}
