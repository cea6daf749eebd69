// Child process for the annotation store and lock tests (a second VS Code window, in effect). It prints
// "ready", waits for a line on stdin (so that several children start at once), then, by mode:
//   write FILE ID FROM COUNT   upserts latents FROM..FROM+COUNT-1, one write each;
//   patch FILE ID FIELD COUNT  saves latents 0..COUNT-1 the way the latent page does: a saveAnnotation
//                              message naming only FIELD, checked by the host's validator, then upserted;
//   hold FILE                  takes the file's lock, prints "held", and releases it at the next stdin line.
import { createInterface } from 'node:readline';
import { withFileLock } from '../../extension/engine/annotations/file-lock';
import { AnnotationStore } from '../../extension/engine/annotations/store';
import { SaveAnnotation, type SaveAnnotationParams } from '../../extension/protocol/messages';
import { parseLatentMessage, type RequestMessage } from '../../extension/protocol/validate';

const [mode, file, identity, a, b] = process.argv.slice(2);
const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = () => stdinLines.next();

async function main(): Promise<void> {
  process.stdout.write('ready\n');
  await nextLine();
  if (mode === 'hold') {
    await withFileLock(file, async () => {
      process.stdout.write('held\n');
      await nextLine();
    });
    return;
  }
  const store = AnnotationStore.open(file, identity, { watch: false });
  for (let i = 0; i < Number(b); i++) {
    if (mode === 'write') {
      await store.upsert(Number(a) + i, { label: `written by ${process.pid}` });
    } else {
      const m = parseLatentMessage({ type: 'request', id: i, method: 'saveAnnotation', latent: i, [a]: `${a} ${i}` }, { dictSize: 1000, tokens: 0, evidence: 0 });
      if (m.type !== 'request' || m.method !== SaveAnnotation.method) throw new Error(`unexpected message ${JSON.stringify(m)}`);
      const p = m as RequestMessage & SaveAnnotationParams;
      await store.upsert(p.latent, { label: p.label, notes: p.notes, status: p.status });
    }
  }
  store.dispose();
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
