/**
 * One end-to-end session: code-server (installed into the cache folder on first use) with the built extension
 * (or an installed VSIX) and the probe extension symlinked in, a temp workspace holding copies of
 * models/samples/*, and headless Chromium showing the workbench. Screenshots go to test-output/e2e/.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { ensureCodeServer } from '../../scripts/code-server/install.mjs';
import { AUTOMATION_SETTINGS, launchCodeServer, type CodeServer } from '../../scripts/code-server/launch';
import { ProbeClient, PROBE_EXTENSION_DIR } from '../../scripts/code-server/probe-client';
import { launchBrowser, openWorkbench, screenshot, type Browser } from '../../scripts/code-server/workbench';

export const ROOT = resolve(import.meta.dirname, '../..');
export const OUT_DIR = join(ROOT, 'test-output', 'e2e');

export interface E2ESession {
  server: CodeServer;
  browser: Browser;
  page: Page;
  probe: ProbeClient;
  /** The workspace folder (copies of models/samples/*). */
  workspace: string;
  shot(name: string): Promise<string>;
  stop(): Promise<void>;
}

export interface SessionOptions {
  /** Install this VSIX into code-server instead of symlinking the development folder. */
  vsix?: string;
}

export async function startSession(opts: SessionOptions = {}): Promise<E2ESession> {
  for (const built of ['dist/extension.js', 'dist/worker.js', 'models/demo/bundle.json']) {
    if (!existsSync(join(ROOT, built))) throw new Error(`${built} is missing: run \`npm run build\` first (npm run test:e2e does)`);
  }
  const installed = ensureCodeServer();
  const scratch = mkdtempSync(join(tmpdir(), 'latent-diff-e2e-'));
  const workspace = join(scratch, 'workspace');
  mkdirSync(workspace);
  for (const name of readdirSync(join(ROOT, 'models', 'samples'))) copyFileSync(join(ROOT, 'models', 'samples', name), join(workspace, name));
  const probeDir = join(scratch, 'probe');
  const server = await launchCodeServer({
    installed,
    workspace,
    extensions: opts.vsix ? [PROBE_EXTENSION_DIR] : [ROOT, PROBE_EXTENSION_DIR],
    vsixFiles: opts.vsix ? [opts.vsix] : [],
    stateDir: join(scratch, 'state'),
    env: { LATENT_DIFF_TEST_HOOK: '1', LATENT_DIFF_PROBE_DIR: probeDir },
    settings: AUTOMATION_SETTINGS,
  });
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close().catch(() => undefined);
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    browser = await launchBrowser();
    await openWorkbench(browser.page, server.workspaceUrl);
    const probe = new ProbeClient(probeDir);
    await probe.waitReady();
    const page = browser.page;
    mkdirSync(OUT_DIR, { recursive: true });
    return { server, browser, page, probe, workspace, shot: (name) => screenshot(page, OUT_DIR, name), stop };
  } catch (e) {
    const tail = server.output().split('\n').slice(-40).join('\n');
    await stop();
    throw new Error(`${(e as Error).message}\n--- code-server output (tail) ---\n${tail}`);
  }
}
