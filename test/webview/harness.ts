/**
 * Loads a built webview (dist/webview/<name>.js) in headless Chromium exactly as VS Code would show it:
 * the host's HTML shell with its Content-Security-Policy, served from a fake extension origin, with a fake
 * `acquireVsCodeApi` that records what the webview posts, and optionally a translated string table. Host messages are posted into the page with
 * ArrayBuffers rebuilt there (see `buffer`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { webviewHtml } from '../../extension/presentation/webview-html';

const ROOT = join(__dirname, '..', '..');
const ORIGIN = 'https://webview.test';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export type BufferKind = 'f32' | 'i32' | 'u32' | 'u8';

/** Marks numbers that must arrive in the page as an ArrayBuffer of the given element type. */
export interface BufferMarker {
  __buffer: BufferKind;
  data: number[];
}

export function buffer(kind: BufferKind, data: ArrayLike<number>): BufferMarker {
  return { __buffer: kind, data: Array.from(data) };
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  for (const name of ['tokens', 'latents', 'latent']) {
    if (!existsSync(join(ROOT, 'dist', 'webview', `${name}.js`))) throw new Error(`dist/webview/${name}.js is missing: run npm run build first`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

export interface WebviewPage {
  page: Page;
  /** Messages the webview posted, in order. */
  sent(): Promise<Array<{ type: string; [k: string]: unknown }>>;
  /** Posts a host message (BufferMarkers become ArrayBuffers). */
  post(message: unknown): Promise<void>;
  /** CSP violations reported by the page. */
  cspViolations(): Promise<string[]>;
  /** Page errors (uncaught exceptions). */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Installed before the page's own script. Plain JavaScript in a string: functions handed to Playwright
 * from a tsx-compiled file would carry esbuild's `__name` helper, which does not exist in the page.
 */
const FAKE_VSCODE_API = `
function installFakeVsCodeApi(initialState) {
  const sent = [];
  const csp = [];
  let state = initialState === null ? undefined : initialState;
  window.__sent = sent;
  window.__csp = csp;
  document.addEventListener('securitypolicyviolation', (e) => csp.push(e.violatedDirective + ' ' + e.blockedURI));
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => sent.push(structuredClone(m)),
    getState: () => state,
    setState: (s) => { state = s; },
  });
  const types = { f32: Float32Array, i32: Int32Array, u32: Uint32Array, u8: Uint8Array };
  const revive = (v) => {
    if (Array.isArray(v)) return v.map(revive);
    if (v && typeof v === 'object') {
      if (typeof v.__buffer === 'string') return new types[v.__buffer](v.data).buffer;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
    }
    return v;
  };
  window.__revive = revive;
  window.__hostPost = (m) => window.dispatchEvent(new MessageEvent('message', { data: revive(m) }));
}`;

const CONTENT_TYPES: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css' };

export async function openWebview(browser: Browser, name: string, opts: { state?: unknown; bodyClass?: string; width?: number; height?: number; l10n?: Record<string, string> } = {}): Promise<WebviewPage> {
  const context = await browser.newContext({ viewport: { width: opts.width ?? 900, height: opts.height ?? 800 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (process.env.WEBVIEW_DEBUG) console.log('[page]', m.type(), m.text()); });
  page.on('pageerror', (e) => { if (process.env.WEBVIEW_DEBUG) console.log('[pageerror]', String(e)); });
  await page.addInitScript({ content: `${FAKE_VSCODE_API}\ninstallFakeVsCodeApi(${JSON.stringify(opts.state ?? null)});` });
  await page.route(`${ORIGIN}/**`, async (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/') {
      await route.fulfill({
        contentType: 'text/html',
        body: webviewHtml({
          cspSource: ORIGIN, nonce: 'testnonce123', scriptUri: `${ORIGIN}/dist/webview/${name}.js`,
          styleUri: `${ORIGIN}/media/webview.css`, title: name, bodyClass: opts.bodyClass, l10n: opts.l10n,
        }),
      });
      return;
    }
    const file = join(ROOT, path);
    if (!file.startsWith(ROOT) || !existsSync(file)) {
      await route.fulfill({ status: 404, body: 'not found' });
      return;
    }
    await route.fulfill({ contentType: CONTENT_TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream', body: readFileSync(file) });
  });
  await page.goto(`${ORIGIN}/`);
  await page.waitForFunction(() => ((window as unknown as { __sent: { type: string }[] }).__sent).some((m) => m.type === 'ready'));
  return {
    page,
    errors,
    sent: () => page.evaluate(() => (window as unknown as { __sent: Array<{ type: string }> }).__sent) as Promise<Array<{ type: string; [k: string]: unknown }>>,
    post: (message) => page.evaluate((m) => (window as unknown as { __hostPost(m: unknown): void }).__hostPost(m), message),
    cspViolations: () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp),
    close: () => context.close(),
  };
}

/** A seeded PRNG (mulberry32), so generated tables are the same on every run. */
export { seededRandom as rng } from '../../extension/engine/random';
