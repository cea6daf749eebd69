// Starts annotations-concurrent-writer.ts children (other windows writing the same annotation file) and
// talks to them line by line: each says "ready", starts at `go`, and exits 0 when its writes are done.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface Child {
  pid: number;
  /** Resolves at the child's next stdout line equal to `line`. */
  says(line: string): Promise<void>;
  /** Sends one line to the child's stdin. */
  tell(line?: string): void;
  /** Resolves when the child exits successfully; rejects with its stderr otherwise. */
  done: Promise<void>;
}

const ROOT = join(import.meta.dirname, '../..');

export function startChild(...args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'annotations-concurrent-writer.ts'), ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: proc.stdout });
  const heard: string[] = [];
  const waiting: { line: string; resolve: () => void }[] = [];
  lines.on('line', (l) => {
    const i = waiting.findIndex((w) => w.line === l);
    if (i >= 0) waiting.splice(i, 1)[0].resolve();
    else heard.push(l);
  });
  const done = once(proc, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`child ${args.join(' ')} exited with ${code}: ${stderr}`);
  });
  return {
    pid: proc.pid!,
    says: (line) => {
      const i = heard.indexOf(line);
      if (i >= 0) {
        heard.splice(i, 1);
        return Promise.resolve();
      }
      return Promise.race([new Promise<void>((resolve) => waiting.push({ line, resolve })), done.then(() => Promise.reject(new Error(`child exited before saying ${line}`)))]);
    },
    tell: (line = 'go') => proc.stdin.write(`${line}\n`),
    done,
  };
}

/** Starts the children, waits until all are ready, then lets them go at once; resolves when all have finished. */
export async function raceChildren(argsList: string[][]): Promise<void> {
  const children = argsList.map((args) => startChild(...args));
  await Promise.all(children.map((c) => c.says('ready')));
  for (const c of children) c.tell();
  await Promise.all(children.map((c) => c.done));
}
