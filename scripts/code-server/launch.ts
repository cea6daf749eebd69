/**
 * Starts code-server on a free local port with no authentication, its own user-data, extensions and XDG
 * folders, the extension folders given symlinked in as installed extensions (and VSIX files really
 * installed), and a workspace folder open.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { envWithNode, type InstalledCodeServer } from './install.mjs';

export interface LaunchOptions {
  installed: InstalledCodeServer;
  workspace: string;
  /** Folders holding an extension (package.json with publisher, name, version), installed by symlink. */
  extensions: string[];
  /** VSIX files installed with code-server's own `--install-extension` before it starts. */
  vsixFiles?: string[];
  /** Extra environment for code-server and so for the extension host. */
  env?: Record<string, string>;
  /** Keep user data (settings, UI state) here between runs; a temp folder otherwise. */
  stateDir?: string;
  /** Extra user settings. */
  settings?: Record<string, unknown>;
  /** Port to listen on (default 0: a free one). */
  port?: number;
  /** Receives code-server's output lines. */
  log?: (line: string) => void;
}

export interface CodeServer {
  /** Base URL, e.g. http://127.0.0.1:41234/ */
  url: string;
  /** URL that opens the workspace folder. */
  workspaceUrl: string;
  stateDir: string;
  /** Everything code-server printed so far. */
  output(): string;
  stop(): Promise<void>;
}

const BASE_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'security.workspace.trust.enabled': false,
  'chat.disableAIFeatures': true,
  'git.enabled': false,
  'workbench.colorTheme': 'Default Dark Modern',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'window.commandCenter': false,
};

/**
 * Extra settings for scripted runs (tests, start --check): a webview panel takes focus some hundred ms after
 * it is revealed, and a quick input opened in between would close on its own. Users rarely type that fast.
 */
export const AUTOMATION_SETTINGS = { 'workbench.quickOpen.closeOnFocusLost': false };

/** The folder name VS Code expects for an installed extension: publisher.name-version. */
export function installedExtensionName(extensionDir: string): string {
  const pkg = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
  return `${pkg.publisher}.${pkg.name}-${pkg.version}`;
}

export async function launchCodeServer(opts: LaunchOptions): Promise<CodeServer> {
  const temporary = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'latent-diff-code-server-'));
  const dirs = {
    userData: join(stateDir, 'user-data'),
    extensions: join(stateDir, 'extensions'),
    xdgConfig: join(stateDir, 'xdg-config'),
    xdgData: join(stateDir, 'xdg-data'),
    xdgCache: join(stateDir, 'xdg-cache'),
    tmp: join(stateDir, 'tmp'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  mkdirSync(join(dirs.userData, 'User'), { recursive: true });
  writeFileSync(join(dirs.userData, 'User', 'settings.json'), JSON.stringify({ ...BASE_SETTINGS, ...opts.settings }, null, 2));
  for (const ext of opts.extensions) {
    const link = join(dirs.extensions, installedExtensionName(ext));
    rmSync(link, { force: true, recursive: false });
    symlinkSync(resolve(ext), link, 'dir');
  }
  const config = join(stateDir, 'config.yaml');
  const bindAddr = `127.0.0.1:${opts.port ?? 0}`;
  writeFileSync(config, `bind-addr: ${bindAddr}\nauth: none\ncert: false\n`);

  const env = envWithNode(opts.installed.nodeBin, {
    XDG_CONFIG_HOME: dirs.xdgConfig,
    XDG_DATA_HOME: dirs.xdgData,
    XDG_CACHE_HOME: dirs.xdgCache,
    // code-server leaves IPC sockets in the temp folder: keep them in the state folder when the socket
    // path stays under the Unix limit (108 bytes).
    ...(join(dirs.tmp, `vscode-ipc-${'0'.repeat(36)}.sock`).length < 100 ? { TMPDIR: dirs.tmp } : {}),
    ...opts.env,
  });
  // Inside a VS Code terminal these make code-server hand the folder to that VS Code instead of serving it.
  for (const k of Object.keys(env)) if (k.startsWith('VSCODE_')) delete env[k];
  for (const vsix of opts.vsixFiles ?? []) {
    execFileSync(opts.installed.nodeBin, [opts.installed.entry, '--extensions-dir', dirs.extensions, '--user-data-dir', dirs.userData, '--install-extension', resolve(vsix)], {
      env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000,
    });
  }
  const args = [
    opts.installed.entry,
    '--config', config,
    '--bind-addr', bindAddr,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--extensions-dir', dirs.extensions,
    '--user-data-dir', dirs.userData,
    opts.workspace,
  ];
  const child = spawn(opts.installed.nodeBin, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const url = await new Promise<string>((done, fail) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      for (const line of text.split('\n')) if (line.trim()) opts.log?.(line);
      const m = /HTTP server listening on (http:\/\/[^\s]+)/.exec(output);
      if (m) done(m[1].endsWith('/') ? m[1] : `${m[1]}/`);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => fail(new Error(`code-server exited (code ${code}) before listening:\n${output}`)));
    child.once('error', fail);
  });
  return {
    url,
    workspaceUrl: `${url}?folder=${encodeURIComponent(resolve(opts.workspace))}`,
    stateDir,
    output: () => output,
    stop: async () => {
      await stopProcessGroup(child, exited);
      if (temporary && existsSync(stateDir)) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** SIGTERM to code-server and its extension host (one process group), SIGKILL if still there after 5 s. */
async function stopProcessGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((done) => (timer = setTimeout(() => done(true), 5000)));
  if (await Promise.race([exited.then(() => false), timedOut])) signal('SIGKILL');
  clearTimeout(timer);
  signal('SIGKILL'); // stragglers of the group (extension host, file watcher)
}
