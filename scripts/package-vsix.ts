// npm run package [-- TARGET...] [--out DIR]: one VSIX per platform onnxruntime-node ships binaries for, each
// holding only that platform's binaries. vsce runs offline. The build (the demo bundle included) runs once
// here; packageTarget packages what is built (vsce's `vscode:prepublish` is told so and skips). .vscodeignore
// is the shared allow-list, and each target's ignore file adds the one line for its binaries.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ORT_BINARIES = 'node_modules/onnxruntime-node/bin/napi-v6';
/** vsce target -> onnxruntime-node's binary folder (os/arch). */
export const TARGETS: Record<string, string> = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};

const ROOT = resolve(import.meta.dirname, '..');

export function vsixName(target: string): string {
  const { name, version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  return `${name}-${target}-${version}.vsix`;
}

/** Packages one target into outDir; returns the VSIX path. */
export function packageTarget(target: string, outDir = join(ROOT, 'vsix')): string {
  const binaries = TARGETS[target];
  if (!binaries) throw new Error(`unknown target ${target}; one of ${Object.keys(TARGETS).join(', ')}`);
  for (const built of ['dist/extension.js', 'dist/worker.js', 'models/demo/bundle.json']) {
    if (!existsSync(join(ROOT, built))) throw new Error(`${built} is missing: run \`npm run build\` first (npm run package does)`);
  }
  const scratch = mkdtempSync(join(tmpdir(), 'latent-diff-vsix-'));
  try {
    const ignoreFile = join(scratch, 'vscodeignore');
    writeFileSync(ignoreFile, `${readFileSync(join(ROOT, '.vscodeignore'), 'utf8')}\n!${ORT_BINARIES}/${binaries}/*\n`);
    mkdirSync(outDir, { recursive: true });
    const out = join(outDir, vsixName(target));
    const vsce = join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
    execFileSync(process.execPath, [vsce, 'package', '--target', target, '--ignoreFile', ignoreFile, '--out', out, '--no-rewrite-relative-links'], {
      cwd: ROOT,
      env: { ...process.env, LATENT_DIFF_BUILT: '1' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    return out;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname, 'package-vsix.ts')) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const outDir = outAt >= 0 ? resolve(args[outAt + 1]) : undefined;
  const targets = outAt >= 0 ? [...args.slice(0, outAt), ...args.slice(outAt + 2)] : args;
  execFileSync(process.execPath, [join(ROOT, 'esbuild.mjs')], { cwd: ROOT, stdio: 'inherit' });
  for (const target of targets.length ? targets : Object.keys(TARGETS)) {
    const file = packageTarget(target, outDir);
    process.stdout.write(`${file}: ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB\n`);
  }
}
