/** `latent-diff generate FILE [--bundle DIR] [--model chat|base|both] [--steer LATENT:STRENGTH]... [--json]` */
import { resolve } from 'node:path';
import { Analyzer } from '../engine/analysis/analyzer';
import type { GenerateRequest, GenerationResult } from '../engine/analysis/generate/generate-request';
import { defaultCacheDir, demoBundleDir } from '../engine/paths';
import { readDocument } from './analyze';
import { intFlag, parseArgs, UsageError, type ParsedArgs } from './args';
import { ENGINE_FLAGS, engineOptions, engineUsage } from './engine-flags';
import { reportProvider } from './provider-note';

export const GENERATE_USAGE = `latent-diff generate FILE [--bundle DIR] [--model chat|base|both] [--max-new N] [--temperature T] [--top-p P]
                     [--seed S] [--steer LATENT:STRENGTH]... [--steer-on all|prompt] [--latent N]... [--json]
  The chat model answers the chat in FILE (JSON/JSONL with "messages", or <start_of_turn> turns), which must
  end with a user turn; tokens stream as they are generated, each with its top latents.
  --bundle DIR        bundle folder (default: the embedded demo bundle)
  --model M           chat (default), base, or both (the base model continues the same prompt)
  --max-new N         most tokens to generate (default 64); stops earlier at <end_of_turn> or <eos>
  --temperature T     0 (default) is greedy; otherwise sampled with --top-p P (default 1) and --seed S (default 0)
  --steer J:S         add S * max_act_J * d_J^chat / ||d_J^chat|| after block layer (repeatable); the default and
                      the steered answers are both printed, from the same seed
  --steer-on W        all (default): every token; prompt: the prompt's tokens only
  --latent N          report latent N's activation on every generated token (repeatable)
  --top K             top latents per token (default 10, at most 32)
  --continue          continue FILE's text as it stands instead of answering a user turn
  --json              print one JSON object
${engineUsage(20)}`;

function numberFlag(args: ParsedArgs, name: string): number | undefined {
  const v = args.flags.get(name)?.[0];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || Number.isNaN(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

function steerFlags(args: ParsedArgs): { latent: number; strength: number }[] {
  return (args.flags.get('steer') ?? []).map((v) => {
    const m = /^(\d+):(.+)$/.exec(v);
    if (!m || Number.isNaN(Number(m[2]))) throw new UsageError(`--steer takes LATENT:STRENGTH (e.g. 356:1.5), got "${v}"`);
    return { latent: Number(m[1]), strength: Number(m[2]) };
  });
}

export async function runGenerate(argv: string[], root: string, out: (s: string) => void): Promise<void> {
  const args = parseArgs(argv, {
    bundle: 'string', model: 'string', 'max-new': 'string', temperature: 'string', 'top-p': 'string', seed: 'string',
    steer: 'string', 'steer-on': 'string', latent: 'string', top: 'string', continue: 'bool', json: 'bool', ...ENGINE_FLAGS,
  });
  if (args.positional.length !== 1) throw new UsageError('generate needs exactly one FILE');
  const model = args.flags.get('model')?.[0] ?? 'chat';
  if (!['chat', 'base', 'both'].includes(model)) throw new UsageError(`--model must be chat, base or both, got "${model}"`);
  const steerOn = args.flags.get('steer-on')?.[0] ?? 'all';
  if (steerOn !== 'all' && steerOn !== 'prompt') throw new UsageError(`--steer-on must be all or prompt, got "${steerOn}"`);
  const latents = (args.flags.get('latent') ?? []).map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--latent must be a latent id (integer >= 0), got "${v}"`);
    return n;
  });
  const seed = intFlag(args, 'seed', 0);
  const file = resolve(args.positional[0]);
  const request: GenerateRequest = {
    model: model as GenerateRequest['model'],
    maxNew: intFlag(args, 'max-new', 1),
    temperature: numberFlag(args, 'temperature'),
    topP: numberFlag(args, 'top-p'),
    ...(seed !== undefined ? { seed } : {}),
    steer: steerFlags(args),
    steerOn,
    latents,
    topK: intFlag(args, 'top', 1),
    continuation: args.flags.has('continue'),
    docName: file,
  };
  const text = readDocument(file);
  const json = args.flags.has('json');
  const analyzer = Analyzer.open(args.flags.get('bundle')?.[0] ?? demoBundleDir(root), { ...engineOptions(args), cacheDir: defaultCacheDir() });
  try {
    let current = -1;
    const result = await analyzer.generate(text, request, (e) => {
      if (json) return;
      if (e.output !== current) {
        current = e.output;
        const steer = e.steered ? ` steered ${request.steer!.map((s) => `${s.latent}:${s.strength}`).join(' ')} (${steerOn})` : '';
        out(`${current > 0 ? '\n\n' : ''}== ${e.model}${steer} ==\n`);
      }
      out(e.token.text);
    });
    out(json ? JSON.stringify(jsonReport(result, latents.length > 0)) + '\n' : textSummary(result, latents));
    if (!json) reportProvider(result);
  } finally {
    await analyzer.dispose();
  }
}

/** The JSON of issue 8: provider, prompt ids, and per output its tokens with their top latents. */
function jsonReport(r: GenerationResult, withActs: boolean): unknown {
  return {
    provider: r.provider,
    providerNote: r.providerNote ?? null,
    promptIds: r.promptIds,
    outputs: r.outputs.map((o) => ({
      model: o.model,
      steer: o.steer.map((s) => ({ latent: s.latent, strength: s.strength })),
      ids: o.ids,
      text: o.text,
      tokens: o.tokens.map((t) => ({ id: t.id, text: t.text, top: t.top, ...(withActs ? { acts: t.acts } : {}) })),
    })),
  };
}

function textSummary(r: GenerationResult, latents: number[]): string {
  const lines = ['', ''];
  r.outputs.forEach((o, i) => {
    const steer = o.steer.length ? ` steered ${o.steer.map((s) => `${s.latent}:${s.strength}`).join(' ')}` : '';
    lines.push(`[${i + 1}] ${o.model}${steer}: ${o.ids.length} tokens, stop: ${o.stop}, ${o.tokensPerSecond.toFixed(1)} tokens/s, provider ${r.provider}`);
    if (latents.length) {
      lines.push(`    token            ${latents.map((j) => `latent ${j}`.padStart(10)).join(' ')}`);
      for (const t of o.tokens) lines.push(`    ${JSON.stringify(t.text).padEnd(16)} ${t.acts!.map((a) => a.toFixed(3).padStart(10)).join(' ')}`);
    }
  });
  return lines.join('\n') + '\n';
}
