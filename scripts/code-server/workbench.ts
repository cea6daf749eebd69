/**
 * Driving the VS Code workbench served by code-server from Playwright in Debian's Chromium: open it, run
 * palette commands, answer input boxes, reach webview content (two iframes deep), take screenshots.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';
import { waitFor } from './wait';

export const CHROMIUM = process.env.LATENT_DIFF_CHROMIUM ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1440, height: 900 }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM}: Chromium not found; install it (apt-get install -y chromium) or set LATENT_DIFF_CHROMIUM`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'latent-diff-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Loads the workbench and waits until it is interactive. */
export async function openWorkbench(page: Page, url: string, timeoutMs = 60_000): Promise<void> {
  await page.goto(url, { timeout: timeoutMs });
  await waitForWorkbench(page, timeoutMs);
}

/** Waits for the workbench (after a load or a window reload): editor area, status bar, activity bar. */
export async function waitForWorkbench(page: Page, timeoutMs = 60_000): Promise<void> {
  for (const part of ['editor', 'statusbar', 'activitybar']) {
    await page.locator(`.monaco-workbench .part.${part}`).first().waitFor({ timeout: timeoutMs });
  }
}

const quickInput = (page: Page) => page.locator('.quick-input-widget');
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * F1, type the command's title, pick the entry whose label is exactly that title. The palette computes its
 * list when the query is typed; a command contributed by an extension the workbench is still registering can
 * be missing from that list, so the query is typed again (palette closed and reopened) until the row shows or
 * `timeoutMs` passes; the error then lists the rows the palette did show.
 */
export async function runCommand(page: Page, title: string, timeoutMs = 60_000): Promise<void> {
  const exact = new RegExp(`^${escapeRegExp(title)}$`);
  const input = quickInput(page).locator('input');
  const row = quickInput(page).locator('.monaco-list-row').filter({ has: page.locator('.label-name', { hasText: exact }) });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.locator('.monaco-workbench').press('F1');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${title}`);
    try {
      await row.first().waitFor({ timeout: Math.min(10_000, Math.max(1000, deadline - Date.now())) });
      break;
    } catch {
      const shown = await quickInput(page).locator('.monaco-list-row .label-name').allInnerTexts().catch(() => []);
      if (Date.now() > deadline) {
        throw new Error(`the command palette has no entry "${title}" after ${timeoutMs} ms; it shows: ${shown.length ? shown.map((x) => `"${x}"`).join(', ') : 'nothing'}`);
      }
      await page.keyboard.press('Escape');
      await input.waitFor({ state: 'hidden' });
    }
  }
  await row.first().click();
  // Closed, or reused by the command's own prompt (then it no longer holds the '>' command query).
  await waitFor(`the palette to run "${title}"`, async () =>
    !(await quickInput(page).isVisible()) || !(await input.inputValue({ timeout: 1000 })).startsWith('>'));
}

/**
 * Waits for the quick input (input box or pick list) whose title starts with `title` (case-sensitive), then
 * submits `text`. Naming the prompt keeps consecutive prompts apart: the widget is reused between them.
 */
export async function answerInput(page: Page, title: string, text: string): Promise<void> {
  const widget = quickInput(page).filter({ has: page.locator('.quick-input-title', { hasText: new RegExp(`^${escapeRegExp(title)}`) }) });
  await widget.waitFor({ state: 'visible' });
  const input = widget.locator('input');
  await input.fill(text);
  await input.press('Enter');
  await widget.waitFor({ state: 'hidden' });
}

/** Opens a workspace file by name through Quick Open (Ctrl+P). */
export async function quickOpen(page: Page, fileName: string): Promise<void> {
  await page.locator('.monaco-workbench').press('Control+P');
  const input = quickInput(page).locator('input');
  await input.waitFor({ state: 'visible' });
  await input.fill(fileName);
  await quickInput(page).locator('.monaco-list-row', { hasText: fileName }).first().click();
  await page.locator(`.tabs-container .tab[data-resource-name="${fileName}"]`).waitFor();
}

/**
 * The content frame of a webview whose document contains `selector`: iframe.webview -> its frame ->
 * iframe#active-frame -> its frame.
 */
export async function webviewFrame(page: Page, selector: string, timeoutMs = 30_000): Promise<Frame> {
  return waitFor(`a webview containing ${selector}`, async () => {
    for (const outer of await page.locator('iframe.webview').elementHandles()) {
      const outerFrame = await outer.contentFrame();
      const inner = await outerFrame?.$('iframe#active-frame');
      const frame = await inner?.contentFrame();
      if (frame && (await frame.locator(selector).count()) > 0) return frame;
    }
    return undefined;
  }, { timeoutMs, intervalMs: 200 });
}

let shot = 0;
/** Saves a numbered full-window screenshot and returns its path. */
export async function screenshot(page: Page, outDir: string, name: string): Promise<string> {
  const file = join(outDir, `${String(++shot).padStart(2, '0')}-${name}.png`);
  mkdirSync(dirname(file), { recursive: true });
  await page.screenshot({ path: file });
  return file;
}
