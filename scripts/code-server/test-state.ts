/** Reading Latent Diff's test hook (extension/host/test-hook.ts returns its state as a JSON string). */
import { pathToFileURL } from 'node:url';
import type { ProbeClient } from './probe-client';

interface HookState {
  analysis: { uri: string } | null;
  decorations: Record<string, unknown[]>;
}

/** Waits until `file` is the analysed document and the editor shows decorations; returns how many ranges. */
export async function waitForAnalysedSample(probe: ProbeClient, file: string, timeoutMs = 120_000): Promise<number> {
  const uri = pathToFileURL(file).toString();
  await probe.state(timeoutMs);
  return probe.waitForState<string, number>(`${file} analysed and highlighted`, (raw) => {
    const st = JSON.parse(raw) as HookState;
    const ranges = Object.values(st.decorations).reduce((n, r) => n + r.length, 0);
    return st.analysis && decodeURIComponent(st.analysis.uri) === decodeURIComponent(uri) && ranges > 0 && ranges;
  }, timeoutMs);
}
