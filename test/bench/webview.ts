/**
 * Webview budgets (SPEC 9), measured in headless Chromium on the built webviews with a fake host:
 * - latents sidebar with 73,728 latents: each filter / sort change, from the input event to the list
 *   re-rendered and laid out (budget 50 ms);
 * - token panel: 8,000 tokens rendered and laid out from the host message (budget 150 ms), and a highlight
 *   change on them;
 * - the host's share of an editor decoration update on an 8,000-token document: grouping token ranges into
 *   colour buckets and converting offsets to positions (budget 16 ms for the whole update; VS Code's own
 *   rendering is not included here).
 * `npm run bench webview [-- --reps N]`. Prints medians; asserts nothing.
 */
import { performance } from 'node:perf_hooks';
import { bucketRanges } from '../../extension/host/decoration-buckets';
import { launchBrowser, openWebview, type WebviewPage } from '../webview/harness';
import { PAPER_DICT_SIZE, documentMessage, highlightMessage, makeTable, makeTokens, tableMessage } from '../webview/fixtures';
import { median, type Bench } from './bench';

/** Sets a control and dispatches its event, then forces style+layout; returns the milliseconds in the page. */
const TIMED_CONTROL = `(async ([id, value]) => {
  const node = document.getElementById(id);
  const t0 = performance.now();
  if (typeof value === 'boolean') node.checked = value; else node.value = value;
  node.dispatchEvent(new Event(typeof value === 'boolean' || node.tagName === 'VSCODE-SINGLE-SELECT' ? 'change' : 'input', { bubbles: true }));
  document.body.offsetHeight;
  return performance.now() - t0;
})`;

/** Dispatches a host message (revived in the page, outside the timing) and forces layout. */
const TIMED_MESSAGE = `(async (payload) => {
  const data = window.__revive(payload);
  const t0 = performance.now();
  window.dispatchEvent(new MessageEvent('message', { data }));
  document.body.offsetHeight;
  return performance.now() - t0;
})`;

async function timedControl(view: WebviewPage, id: string, value: string | boolean): Promise<number> {
  return view.page.evaluate(`${TIMED_CONTROL}(${JSON.stringify([id, value])})`) as Promise<number>;
}

async function timedMessage(view: WebviewPage, message: unknown): Promise<number> {
  return view.page.evaluate(`${TIMED_MESSAGE}(${JSON.stringify(message)})`) as Promise<number>;
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
const verdict = (ms: number, budget: number) => `${fmt(ms).padStart(9)}  (${(ms / budget).toFixed(2)} x the ${budget} ms budget)`;

async function sidebar(reps: number): Promise<void> {
  const browser = await launchBrowser();
  try {
    const view = await openWebview(browser, 'latents', { bodyClass: 'sidebar', width: 420, height: 900 });
    const table = makeTable(PAPER_DICT_SIZE, 21);
    console.log(`latents sidebar, ${PAPER_DICT_SIZE.toLocaleString('en-US')} latents (Chromium ${browser.version()}):`);
    console.log(`  table message -> list ready      ${fmt(await timedMessage(view, tableMessage(table)))}`);
    const activity = Array.from({ length: 2000 }, (_, i) => (i * 37) % PAPER_DICT_SIZE);
    await view.post({ type: 'activity', activity: { title: 'doc', latents: { __buffer: 'u32', data: activity }, maxes: { __buffer: 'f32', data: activity.map((_, i) => 1 + (i % 7)) } } });
    await view.post({ type: 'labels', labels: Array.from({ length: 500 }, (_, i) => [i * 131, `label ${i} ${i % 3 ? 'refusal' : 'code'}`]) });

    // First sort per column: served from the order the sidebar builds while idle, except docAct (new per analysis).
    const cold: [string, number][] = [];
    for (const key of ['nuError', 'nuReconstruction', 'freq', 'maxAct', 'decCos', 'docAct', 'id']) cold.push([key, await timedControl(view, 'sort-key', key)]);
    console.log('  first sort by each column (orders are built while idle after the table loads; docAct after each analysis is not):');
    for (const [k, ms] of cold) console.log(`    ${k.padEnd(18)} ${verdict(ms, 50)}`);

    const cases: [string, [string, string | boolean][], [string, string | boolean][]][] = [
      ['tag = chat-only', [['filter-tag', 'chat-only']], [['filter-tag', 'any']]],
      ['verdict = robust', [['filter-flag', 'robust']], [['filter-flag', 'any']]],
      ['label text "refusal"', [['filter-text', 'refusal']], [['filter-text', '']]],
      ['Δnorm 0.2–0.3', [['filter-delta-min', '0.2'], ['filter-delta-max', '0.3']], [['filter-delta-min', ''], ['filter-delta-max', '']]],
      ['ν^ε ≤ 0.2', [['filter-nu-error-max', '0.2']], [['filter-nu-error-max', '']]],
      ['active in document', [['filter-active', true]], [['filter-active', false]]],
      ['sort Δnorm ↔ max act', [['sort-key', 'deltaNorm']], [['sort-key', 'maxAct']]],
      ['descending on/off', [['sort-descending', false]], [['sort-descending', true]]],
    ];
    console.log(`  filter / sort change, median of ${reps} (apply and undo each timed):`);
    let worst = 0;
    for (const [name, apply, undo] of cases) {
      const times: number[] = [];
      for (let r = 0; r < reps; r++) {
        let t = 0;
        for (const [id, v] of apply) t += await timedControl(view, id, v);
        times.push(t);
        t = 0;
        for (const [id, v] of undo) t += await timedControl(view, id, v);
        times.push(t);
      }
      const m = median(times);
      worst = Math.max(worst, m);
      console.log(`    ${name.padEnd(22)} ${verdict(m, 50)}`);
    }
    console.log(`  worst median filter/sort change: ${verdict(worst, 50)}`);
    await view.close();
  } finally {
    await browser.close();
  }
}

async function tokenPanel(reps: number): Promise<void> {
  const browser = await launchBrowser();
  try {
    const view = await openWebview(browser, 'tokens', { width: 1200, height: 900 });
    const f = makeTokens(8000, 31);
    const doc = documentMessage(f, []);
    const renders: number[] = [];
    const recolours: number[] = [];
    for (let r = 0; r < reps; r++) {
      renders.push(await timedMessage(view, doc));
      recolours.push(await timedMessage(view, highlightMessage(f.latent7)));
    }
    console.log('token panel, 8,000 tokens:');
    console.log(`  render (message -> laid out)     ${verdict(median(renders), 150)}   [median of ${reps}]`);
    console.log(`  highlight change (recolour all)  ${verdict(median(recolours), 150)}`);
    await view.close();
  } finally {
    await browser.close();
  }
}

/** Offsets -> (line, character) like TextDocument.positionAt, over a line-start table. */
function positionAtFor(text: string): (offset: number) => { line: number; character: number } {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid; else hi = mid - 1;
    }
    return { line: lo, character: offset - starts[lo] };
  };
}

function decorationBucketing(reps: number): void {
  const f = makeTokens(8000, 41);
  let offset = 0;
  const tokens = f.texts.map((t) => ({ start: offset, end: (offset += t.length) }));
  const positionAt = positionAtFor(f.texts.join(''));
  let max = 0;
  for (const a of f.latent7) max = Math.max(max, a);
  const times: number[] = [];
  let ranges = 0;
  for (let r = 0; r < reps * 4; r++) {
    const t0 = performance.now();
    const buckets = bucketRanges(tokens, f.latent7, max);
    ranges = 0;
    for (const b of buckets) for (const [s, e] of b) { positionAt(s); positionAt(e); ranges++; }
    times.push(performance.now() - t0);
  }
  console.log(`editor decoration update, host share (8,000 tokens, ${ranges} coloured ranges in 8 buckets):`);
  console.log(`  bucket + offsets -> positions    ${verdict(median(times), 16)}   [VS Code's rendering not included]`);
}

export const bench: Bench = {
  name: 'webview',
  description: 'sidebar filter/sort over 73,728 latents, token panel render of 8,000 tokens, decoration bucketing (Chromium)',
  default: true,
  async run(args) {
    const i = args.indexOf('--reps');
    const reps = i >= 0 ? Math.max(1, Number(args[i + 1]) || 5) : 5;
    await sidebar(reps);
    await tokenPanel(reps);
    decorationBucketing(reps);
  },
};
