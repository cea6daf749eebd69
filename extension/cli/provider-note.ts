/** The stderr line that tells a CLI user why the provider asked for was not used, and which adapter ran. */
export interface ProviderReport {
  provider: string;
  providerNote?: string;
  adapter?: string;
}

export function providerLine(r: ProviderReport): string | undefined {
  if (!r.providerNote && !r.adapter) return undefined;
  return `latent-diff: provider ${r.provider}${r.adapter ? ` on ${r.adapter}` : ''}${r.providerNote ? `: ${r.providerNote}` : ''}\n`;
}

export function reportProvider(r: ProviderReport, write: (s: string) => void = (s) => process.stderr.write(s)): void {
  const line = providerLine(r);
  if (line) write(line);
}
