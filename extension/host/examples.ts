/**
 * Max-activating examples for the latent page, from the bundle's examples.db (ours or the paper's), token
 * ids decoded with the bundle's tokenizer. Both (and the SQLite and tokenizer libraries) are loaded on
 * first use, and only when the bundle has a database.
 */
import type { Example } from '../engine/analysis/examples-db';
import type { Session } from './session';
import { QUANTILES } from '../engine/analysis/stats/examples-sampler';
import type { ExampleSection, ExamplesView } from '../protocol/messages';
import { toBuffer } from '../presentation/webview-payloads';
import { t } from '../protocol/l10n';

/** Tokens shown either side of an example's strongest token (the paper's dashboards use 50). */
export const EXAMPLE_WINDOW = 50;
const PER_QUANTILE = 10;

export function quantileName(q: number): string {
  const hi = QUANTILES[q];
  if (hi === undefined) return t('quantile {0}', q);
  const lo = q === 0 ? 0 : QUANTILES[q - 1];
  return t('{0}–{1}% of the max activation', Math.round(lo * 100), Math.round(hi * 100));
}

export function exampleSections(examples: Example[], display: (id: number) => string): ExampleSection[] {
  const byQuantile = new Map<number, Example[]>();
  for (const e of examples) byQuantile.set(e.quantile, [...(byQuantile.get(e.quantile) ?? []), e]);
  return [...byQuantile.entries()].sort((a, b) => b[0] - a[0]).map(([q, list]) => ({
    name: quantileName(q),
    examples: list.map((e) => {
      let arg = 0;
      for (let i = 1; i < e.acts.length; i++) if (e.acts[i] > e.acts[arg]) arg = i;
      const from = Math.max(0, arg - EXAMPLE_WINDOW);
      const to = Math.min(e.tokenIds.length, arg + EXAMPLE_WINDOW + 1);
      return {
        maxAct: e.maxAct,
        strip: {
          texts: Array.from(e.tokenIds.subarray(from, to), display),
          acts: toBuffer(e.acts.subarray(from, to)),
          focus: arg - from,
          offset: -1,
        },
      };
    }),
  }));
}

/** The latent page's examples: the database is read and token ids decoded in the inference worker. */
export class ExamplesSource {
  private failure = '';

  constructor(private readonly session: Session, private readonly file: string | undefined) {}

  async get(latent: number): Promise<ExamplesView> {
    if (!this.file) {
      return { status: 'none', message: t('No examples database: this bundle has none. Compute statistics on a dataset ("Latent Diff: Compute Statistics on Dataset…") or add the paper\'s examples.db to bundle.json ("examples").') };
    }
    if (this.failure) return { status: 'none', message: this.failure };
    try {
      const reply = await this.session.examples(this.file, latent, PER_QUANTILE);
      const display = new Map<number, string>();
      reply.examples.forEach((e, i) => e.tokenIds.forEach((id, t) => display.set(id, reply.texts[i][t])));
      const sections = exampleSections(reply.examples, (id) => display.get(id) ?? String(id));
      if (sections.length === 0) return { status: 'none', message: t('No examples of latent {0} in {1}: it never fired in the statistics data.', latent, this.file) };
      return { status: 'ok', source: this.file, sections };
    } catch (e) {
      this.failure = t('The examples database cannot be read: {0}', (e as Error).message);
      return { status: 'none', message: this.failure };
    }
  }
}
