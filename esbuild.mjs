// The one build: extension host, inference worker and CLI for Node (cjs), webviews for the browser,
// then the demo bundle (generated deterministically, only when missing or out of date).
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const watch = process.argv.includes('--watch');
// vsce runs `vscode:prepublish` (this script with --prepublish) once per VSIX target: `npm run package` and
// the VSIX tests build once beforehand and say so, so packaging never rewrites dist/ under a running test.
if (process.argv.includes('--prepublish') && process.env.LATENT_DIFF_BUILT === '1') process.exit(0);
const node = {
  bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: true,
  external: ['vscode', 'onnxruntime-node'], logLevel: 'warning',
};
const nodeEntries = {
  extension: 'extension/host/extension.ts',
  worker: 'extension/engine/worker/worker-main.ts',
  'stats-worker': 'extension/engine/worker/stats-worker-main.ts',
  cli: 'extension/cli/main.ts',
};
const builds = [];
for (const [out, entry] of Object.entries(nodeEntries)) {
  // The extension is minified: activation time is mostly parsing the bundle.
  if (existsSync(entry)) builds.push({ ...node, minify: out === 'extension', entryPoints: [entry], outfile: `dist/${out}.js` });
}
const webviewDir = 'webview';
for (const name of existsSync(webviewDir) ? readdirSync(webviewDir) : []) {
  const entry = `${webviewDir}/${name}/main.ts`;
  if (existsSync(entry)) {
    builds.push({ bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: true, minify: true,
      entryPoints: [entry], outfile: `dist/webview/${name}.js`, logLevel: 'warning' });
  }
}
if (watch) {
  for (const b of builds) (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
  // node-sqlite3-wasm loads its WebAssembly from next to the bundle that requires it.
  mkdirSync('dist', { recursive: true });
  copyFileSync('node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.wasm', 'dist/node-sqlite3-wasm.wasm');
  if (!process.argv.includes('--no-demo')) {
    for (const script of ['models/generate-demo.ts', 'models/demo-stats.ts']) {
      execFileSync(process.execPath, ['--import', 'tsx', script, '--if-stale'], { stdio: 'inherit' });
    }
  }
}
