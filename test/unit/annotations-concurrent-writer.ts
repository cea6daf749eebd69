// Child process for annotations-store.test.ts: writes `count` latents starting at `from`, one write each,
// into the shared annotation file, racing another copy of itself.
import { AnnotationStore } from '../../extension/engine/annotations/store';

const [file, identity, from, count] = process.argv.slice(2);
const store = AnnotationStore.open(file, identity, { watch: false });
for (let i = 0; i < Number(count); i++) store.upsert(Number(from) + i, { label: `written by ${process.pid}` });
store.dispose();
