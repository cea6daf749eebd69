/**
 * The cost of content identity (bundle/content-digest.ts): the first open of a checkpoint the size of the
 * paper's crosscoders (2.7 GB by default; `npm run bench content-digest [GB]`) hashes every byte, a re-open
 * of the unchanged file reads only the memo. Prints both and their ratio, and the hashing rate.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentDigest } from '../../extension/engine/bundle/content-digest';
import { fillUniform, type Bench } from './bench';

export const bench: Bench = {
  name: 'content-digest',
  description: 'first open (hash of every byte) vs re-open (memo) of a checkpoint-sized file',
  default: false,
  async run(args) {
    const gb = Number(args[0] ?? 2.7);
    const dir = mkdtempSync(join(tmpdir(), 'ld-bench-digest-'));
    try {
      const file = join(dir, 'model.safetensors');
      const chunk = Buffer.from(fillUniform(new Float32Array(4 << 20), 1, 1).buffer);
      const bytes = Math.round(gb * 2 ** 30);
      const fd = openSync(file, 'w');
      for (let done = 0; done < bytes; ) done += writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
      closeSync(fd);
      const cacheDir = join(dir, 'cache');
      let t = performance.now();
      contentDigest(file, cacheDir);
      const first = (performance.now() - t) / 1000;
      t = performance.now();
      contentDigest(file, cacheDir);
      const again = (performance.now() - t) / 1000;
      console.log(`file ${(bytes / 2 ** 30).toFixed(2)} GiB (page cache warm from writing it)`);
      console.log(`first open: ${first.toFixed(2)} s (${(bytes / 2 ** 20 / first).toFixed(0)} MiB/s)`);
      console.log(`re-open:    ${(again * 1000).toFixed(2)} ms  (first/re-open ratio ${(first / again).toFixed(0)}x)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
