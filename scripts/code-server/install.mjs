// Installs code-server (the real VS Code workbench, from npm) and the Node 24 it needs into a cache folder
// OUTSIDE the repository, once; later calls reuse it. Never a dependency of the project's package.json:
// code-server's postinstall fails on the project's Node 20 and weighs ~600 MB.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { ensureSystemPackage } from '../system-package.mjs';

export const CODE_SERVER_VERSION = '4.139.1';
const NODE_MAJOR = '24';

export function cacheRoot() {
  return process.env.LATENT_DIFF_CACHE || join(homedir(), '.cache', 'latent-diff');
}

/** The environment for npm and code-server: Node 24 first on PATH, no npm_* variables leaking from a parent `npm run`. */
export function envWithNode(nodeBin, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  env.PATH = `${dirname(nodeBin)}${delimiter}${process.env.PATH ?? ''}`;
  return { ...env, ...extra };
}

/** The npm package `node` puts the real binary at node/bin/node (recent versions) or in an arch-specific package. */
function findNodeBinary(dir) {
  const pkg = join(dir, 'node_modules', 'node');
  const archDir = join(pkg, 'node_modules');
  const candidates = [join(pkg, 'bin', 'node')];
  if (existsSync(archDir)) {
    for (const name of readdirSync(archDir)) if (name.startsWith('node-')) candidates.push(join(archDir, name, 'bin', 'node'));
  }
  return candidates.find((bin) => {
    try {
      return execFileSync(bin, ['--version'], { encoding: 'utf8' }).startsWith(`v${NODE_MAJOR}.`);
    } catch {
      return false;
    }
  });
}

function readMarker(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Returns { nodeBin, entry, version, dir, installSeconds } where `entry` is code-server's entry script
 * (run it with nodeBin). installSeconds is 0 when an earlier install was reused.
 */
export function ensureCodeServer({ log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  const dir = join(cacheRoot(), 'code-server');
  const marker = join(dir, 'installed.json');
  const entry = join(dir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const found = readMarker(marker);
  const reusedNode = findNodeBinary(dir);
  if (found?.codeServer === CODE_SERVER_VERSION && reusedNode && existsSync(entry)) {
    return { nodeBin: reusedNode, entry, version: CODE_SERVER_VERSION, dir, installSeconds: 0 };
  }
  if (process.platform === 'linux') {
    ensureSystemPackage({ present: () => existsSync('/usr/include/gssapi/gssapi.h'), pkg: 'libkrb5-dev', why: "code-server's install (it compiles a Kerberos module)", log });
  }
  const t0 = Date.now();
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) {
    writeFileSync(join(dir, 'package.json'), '{ "name": "latent-diff-code-server", "private": true }\n');
  }
  const npm = (args, env) =>
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, ...args], { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
  log(`Installing Node ${NODE_MAJOR} and code-server ${CODE_SERVER_VERSION} into ${dir} (first use only, ~2 minutes)...`);
  npm([`node@${NODE_MAJOR}`], envWithNode(process.execPath));
  const nodeBin = findNodeBinary(dir);
  if (!nodeBin) throw new Error(`${dir}: npm installed node@${NODE_MAJOR} but no working Node ${NODE_MAJOR} binary was found under node_modules/node`);
  npm([`code-server@${CODE_SERVER_VERSION}`], envWithNode(nodeBin));
  if (!existsSync(entry)) throw new Error(`${dir}: code-server ${CODE_SERVER_VERSION} installed but ${entry} is missing`);
  const nodeVersion = execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim();
  const installSeconds = (Date.now() - t0) / 1000;
  writeFileSync(marker, `${JSON.stringify({ codeServer: CODE_SERVER_VERSION, node: nodeVersion, installSeconds }, null, 2)}\n`);
  log(`code-server ${CODE_SERVER_VERSION} on Node ${nodeVersion} installed in ${installSeconds.toFixed(0)} s.`);
  return { nodeBin, entry, version: CODE_SERVER_VERSION, dir, installSeconds };
}
