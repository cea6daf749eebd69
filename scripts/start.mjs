#!/usr/bin/env node
// `npm start`: build, then open Latent Diff in a real VS Code on the demo bundle with a sample prompt already
// analysed and highlighted. Desktop VS Code when `code` is on PATH; otherwise code-server (installed on first
// use into $LATENT_DIFF_CACHE or ~/.cache/latent-diff, never a project dependency) at a printed local URL,
// served until Ctrl+C.
//   --browser     use code-server even when `code` is on PATH
//   --port N      code-server port (default: a free one)
//   --check       headless self-test: start code-server, load the workbench in Chromium, wait until the sample
//                 is analysed and highlighted, save a screenshot, print the URL and exit (0 = it works)
// Run through `node --import tsx` (the npm script does): the code-server helpers are TypeScript.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot, ensureCodeServer } from './code-server/install.mjs';
import { AUTOMATION_SETTINGS, launchCodeServer } from './code-server/launch.ts';
import { ProbeClient, PROBE_EXTENSION_DIR } from './code-server/probe-client.ts';
import { waitForAnalysedSample } from './code-server/test-state.ts';
import { CHROMIUM, launchBrowser, openWorkbench, screenshot } from './code-server/workbench.ts';
import { ensureSystemPackage } from './system-package.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SAMPLE = 'hello-chat.txt';
const args = process.argv.slice(2);
const check = args.includes('--check');
const portArg = args.includes('--port') ? Number(args[args.indexOf('--port') + 1]) : 0;
if (!Number.isInteger(portArg) || portArg < 0 || portArg > 65535) {
  console.error('--port needs a port number (1-65535)');
  process.exit(2);
}

/** A workspace with the sample documents; the user's edits and annotations there survive restarts. */
function prepareWorkspace(dir) {
  mkdirSync(dir, { recursive: true });
  const samples = join(ROOT, 'models', 'samples');
  for (const name of readdirSync(samples)) {
    if (!existsSync(join(dir, name))) copyFileSync(join(samples, name), join(dir, name));
  }
  return dir;
}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Stops what this run started (code-server, its scratch folders); replaced once they exist. */
let stopStarted = async () => {};

async function start() {
  console.log('Building the extension and the demo bundle...');
  execFileSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (check) ensureSystemPackage({ present: () => existsSync(CHROMIUM), pkg: 'chromium', why: '`npm start -- --check` (it drives a headless Chromium)' });

  if (!check && !args.includes('--browser') && onPath('code')) {
    const workspace = prepareWorkspace(join(cacheRoot(), 'demo-workspace'));
    const sample = join(workspace, SAMPLE);
    console.log(`Opening VS Code on ${workspace} with ${SAMPLE} analysed (extension from ${ROOT}).`);
    const child = spawn('code', ['--new-window', `--extensionDevelopmentPath=${ROOT}`, workspace, sample], {
      stdio: 'inherit',
      env: { ...process.env, LATENT_DIFF_AUTO_ANALYZE: sample },
    });
    child.on('exit', (code) => process.exit(code ?? 0));
  } else {
    const installed = ensureCodeServer({ log: (m) => console.log(m) });
    // --check runs in throwaway folders; a normal start keeps its workspace and VS Code state in the cache.
    const scratch = check ? mkdtempSync(join(tmpdir(), 'latent-diff-start-check-')) : undefined;
    const workspace = prepareWorkspace(scratch ? join(scratch, 'workspace') : join(cacheRoot(), 'demo-workspace'));
    const sample = join(workspace, SAMPLE);
    const probeDir = scratch && join(scratch, 'probe');
    const server = await launchCodeServer({
      installed,
      workspace,
      extensions: check ? [ROOT, PROBE_EXTENSION_DIR] : [ROOT],
      stateDir: scratch ? join(scratch, 'state') : join(cacheRoot(), 'start-state'),
      port: portArg,
      settings: check ? AUTOMATION_SETTINGS : {},
      env: {
        LATENT_DIFF_AUTO_ANALYZE: sample,
        ...(probeDir ? { LATENT_DIFF_TEST_HOOK: '1', LATENT_DIFF_PROBE_DIR: probeDir } : {}),
      },
    });
    const stop = async () => {
      await server.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    };
    stopStarted = stop;
    if (check) {
      let ok = false;
      let browser;
      try {
        browser = await launchBrowser();
        await openWorkbench(browser.page, server.workspaceUrl);
        const probe = new ProbeClient(probeDir);
        await probe.waitReady();
        const ranges = await waitForAnalysedSample(probe, sample);
        const shot = await screenshot(browser.page, join(ROOT, 'test-output', 'start-check'), 'analysed-sample');
        console.log(`Workbench loaded at ${server.workspaceUrl}; ${SAMPLE} analysed with ${ranges} highlighted token ranges (screenshot: ${shot}).`);
        ok = true;
      } catch (e) {
        console.error(`start --check failed: ${e instanceof Error ? e.message : e}`);
        console.error(server.output().split('\n').slice(-30).join('\n'));
      } finally {
        await browser?.close();
        await stop();
      }
      process.exit(ok ? 0 : 1);
    }
    console.log(`\nLatent Diff is running in code-server ${installed.version}. Open this in your browser:\n\n  ${server.workspaceUrl}\n`);
    console.log(`${SAMPLE} opens analysed and highlighted. Press Ctrl+C to stop.`);
    let stopping = false;
    for (const sig of ['SIGINT', 'SIGTERM']) {
      process.on(sig, () => {
        if (stopping) return;
        stopping = true;
        console.log('\nStopping code-server...');
        void stop().then(() => process.exit(0));
      });
    }
  }
}

try {
  await start();
} catch (e) {
  // One line naming what is wrong (and the command that fixes it), never a stack trace; nothing left running.
  console.error(`npm start: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  await stopStarted().catch(() => {});
  process.exit(1);
}
