/**
 * The annotations of one crosscoder, kept in a workspace file that may hold several crosscoders' sections.
 *
 * Every change is written at once, under a lock, by re-reading the file and applying the change to what is on
 * disk now: records that another window wrote since our last read are kept, and a patch to a latent that the
 * other window also changed only replaces the fields it names. Changes are asynchronous (waiting for another
 * window's lock never blocks the thread) and this store applies its own in the order they were made. A
 * malformed file is reported (`error`) and the store goes read-only until the file is fixed: it is never
 * overwritten. External changes (git pull, another window) are picked up by watching the folder.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { LatentDiffError } from '../errors';
import { readTextIfExists, writeFileAtomic } from './atomic-file';
import { annotationsToCsv, annotationsToJson, labelsToJson, parseCsvImport, parseJsonImport, type ImportedAnnotation } from './exchange';
import { withFileLock, type LockTiming } from './file-lock';
import { parseAnnotationFile, recordJson, serializeAnnotationFile } from './file-format';
import { checkEvidence, checkLatent, checkStatus } from './record-check';
import type { Annotation, AnnotationFileData, AnnotationPatch, AnnotationRecord, AnnotationSection, Evidence } from './types';

export interface AnnotationChange {
  /** Latents whose record was added, changed or removed. */
  latents: number[];
  /** True when the change came from the file (another window, git), false for this store's own edits. */
  external: boolean;
}

export interface AnnotationStoreOptions {
  /** Watch the folder and reload on external changes (default true). */
  watch?: boolean;
  /** Debounce for file events, ms (default 100). */
  debounceMs?: number;
  /** Clock for updatedAt (tests). */
  now?: () => number;
  /**
   * Identities earlier versions gave the same crosscoder: while the file has no section under the current
   * identity, the first of these it has is read, and the next edit moves it to the current identity.
   */
  formerIdentities?: readonly string[];
  /** How long to wait for another writer's lock and when a lock is stale (tests). */
  lockTiming?: LockTiming;
}

export interface ImportSummary {
  imported: number;
  source: string;
}

type Mutation = (section: AnnotationSection, now: string) => number[];

function copyRecord(latent: number, r: AnnotationRecord): Annotation {
  return { latent, ...r, evidence: r.evidence.map((e) => ({ ...e, range: { start: { ...e.range.start }, end: { ...e.range.end } } })) };
}

function emptyRecord(now: string): AnnotationRecord {
  return { label: '', status: 'hypothesis', notes: '', evidence: [], updatedAt: now };
}

export class AnnotationStore {
  private section: AnnotationSection = new Map();
  private lastText: string | undefined;
  private problem: LatentDiffError | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(e: AnnotationChange) => void>();
  private disposed = false;
  /** The last change queued: the next one starts when it has settled. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly filePath: string,
    readonly crosscoderIdentity: string,
    private readonly options: AnnotationStoreOptions,
  ) {}

  /** Opens the store; the file need not exist yet. A malformed file does not throw: see `error`. */
  static open(filePath: string, crosscoderIdentity: string, options: AnnotationStoreOptions = {}): AnnotationStore {
    const store = new AnnotationStore(filePath, crosscoderIdentity, options);
    store.load(false);
    if (options.watch !== false) store.startWatching();
    return store;
  }

  /** Why the file cannot be used (malformed, unreadable); the store is read-only while this is set. */
  get error(): LatentDiffError | undefined {
    return this.problem;
  }

  get readOnly(): boolean {
    return this.problem !== undefined;
  }

  get(latent: number): Annotation | undefined {
    const r = this.section.get(latent);
    return r && copyRecord(latent, r);
  }

  all(): Annotation[] {
    return [...this.section.keys()].sort((a, b) => a - b).map((l) => copyRecord(l, this.section.get(l)!));
  }

  /** Sets the fields the patch names (undefined ones are left as they are on disk). */
  async upsert(latent: number, patch: AnnotationPatch): Promise<Annotation> {
    checkLatent(latent, this.filePath);
    const clean: AnnotationPatch = {};
    if (patch.label !== undefined) clean.label = this.checkText(patch.label, 'label');
    if (patch.notes !== undefined) clean.notes = this.checkText(patch.notes, 'notes');
    if (patch.status !== undefined) clean.status = checkStatus(patch.status, this.filePath, 'status');
    await this.commit((section, now) => {
      section.set(latent, { ...(section.get(latent) ?? emptyRecord(now)), ...clean, updatedAt: now });
      return [latent];
    });
    return this.get(latent)!;
  }

  async addEvidence(latent: number, evidence: Evidence): Promise<Annotation> {
    checkLatent(latent, this.filePath);
    const ev = checkEvidence(evidence, this.filePath, 'evidence');
    await this.commit((section, now) => {
      const r = section.get(latent) ?? emptyRecord(now);
      section.set(latent, { ...r, evidence: [...r.evidence, ev], updatedAt: now });
      return [latent];
    });
    return this.get(latent)!;
  }

  /** Returns whether there was a record to remove. */
  async remove(latent: number): Promise<boolean> {
    checkLatent(latent, this.filePath);
    let removed = false;
    await this.commit((section) => {
      removed = section.delete(latent);
      return removed ? [latent] : [];
    });
    return removed;
  }

  /** Re-reads the file now (also done automatically on external changes). */
  reload(): void {
    this.load(true);
  }

  onDidChange(listener: (e: AnnotationChange) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** This crosscoder's annotations in our file format. */
  exportJson(): string {
    return annotationsToJson(this.crosscoderIdentity, this.section);
  }

  /** This crosscoder's labels in the paper's hand-label format {"<latent id>": "label"}. */
  exportLabelsJson(): string {
    return labelsToJson(this.all());
  }

  exportCsv(): string {
    return annotationsToCsv(this.all());
  }

  /** Imports our format or the paper's hand labels; `source` names the imported file in error messages. */
  async importJson(text: string, source = 'imported JSON'): Promise<ImportSummary> {
    const parsed = parseJsonImport(text, this.crosscoderIdentity, source);
    return { imported: await this.applyImport(parsed.records), source: parsed.source };
  }

  async importCsv(text: string, source = 'imported CSV'): Promise<ImportSummary> {
    const parsed = parseCsvImport(text, source);
    return { imported: await this.applyImport(parsed.records), source: parsed.source };
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    this.listeners.clear();
  }

  private checkText(v: unknown, field: string): string {
    if (typeof v !== 'string') throw new LatentDiffError(this.filePath, `${field} must be a string`);
    return v;
  }

  /** Imported fields replace ours; imported evidence is added unless already present. One write for all. */
  private async applyImport(records: ImportedAnnotation[]): Promise<number> {
    if (records.length === 0) return 0;
    await this.commit((section, now) => {
      for (const rec of records) {
        const r = section.get(rec.latent) ?? emptyRecord(now);
        const seen = new Set(r.evidence.map((e) => JSON.stringify(e)));
        const extra = (rec.evidence ?? []).filter((e) => !seen.has(JSON.stringify(e)));
        section.set(rec.latent, {
          label: rec.label ?? r.label,
          status: rec.status ?? r.status,
          notes: rec.notes ?? r.notes,
          evidence: [...r.evidence, ...extra],
          updatedAt: now,
        });
      }
      return records.map((r) => r.latent);
    });
    return records.length;
  }

  /** Queues the change after this store's earlier ones. */
  private commit(mutate: Mutation): Promise<void> {
    const run = this.queue.then(() => this.commitNow(mutate));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Read the file, apply the mutation to what is on disk, write atomically: all under the lock. */
  private async commitNow(mutate: Mutation): Promise<void> {
    if (this.disposed) throw new Error('the annotation store is disposed');
    if (this.problem) throw this.problem;
    let external: number[] = [];
    let changed: number[] = [];
    try {
      await withFileLock(this.filePath, async () => {
        const text = readTextIfExists(this.filePath);
        const data = text === undefined ? { crosscoders: new Map() } : parseAnnotationFile(text, this.filePath);
        const [key, found] = this.sectionIn(data);
        const section: AnnotationSection = found ?? new Map();
        external = text === this.lastText ? [] : diffLatents(this.section, section);
        changed = mutate(section, new Date(this.options.now?.() ?? Date.now()).toISOString());
        data.crosscoders.delete(key);
        data.crosscoders.set(this.crosscoderIdentity, section);
        const out = serializeAnnotationFile(data);
        if (changed.length > 0) await writeFileAtomic(this.filePath, out);
        this.section = section;
        this.lastText = changed.length > 0 ? out : text;
      }, this.options.lockTiming);
    } catch (e) {
      if (e instanceof LatentDiffError && e.code === 'malformed-annotations') {
        this.problem = e;
        this.emit({ latents: [], external: true });
      }
      throw e;
    }
    if (!this.watcher && this.options.watch !== false) this.startWatching();
    if (external.length > 0) this.emit({ latents: external, external: true });
    if (changed.length > 0) this.emit({ latents: changed, external: false });
  }

  private load(notify: boolean): void {
    let text: string | undefined;
    let data: AnnotationFileData;
    const hadProblem = this.problem !== undefined;
    try {
      text = readTextIfExists(this.filePath);
      if (text === this.lastText && !hadProblem) return;
      data = text === undefined ? { crosscoders: new Map() } : parseAnnotationFile(text, this.filePath);
    } catch (e) {
      const changed = this.problem?.message !== (e as Error).message;
      this.problem = e instanceof LatentDiffError ? e : new LatentDiffError(this.filePath, (e as Error).message);
      if (notify && changed) this.emit({ latents: [], external: true });
      return;
    }
    const section = this.sectionIn(data)[1] ?? new Map();
    const latents = diffLatents(this.section, section);
    this.section = section;
    this.lastText = text;
    this.problem = undefined;
    if (notify && (latents.length > 0 || hadProblem)) this.emit({ latents, external: true });
  }

  /** This crosscoder's section and the identity it is filed under (the current one, or a former one). */
  private sectionIn(data: AnnotationFileData): [string, AnnotationSection | undefined] {
    for (const id of [this.crosscoderIdentity, ...(this.options.formerIdentities ?? [])]) {
      const section = data.crosscoders.get(id);
      if (section) return [id, section];
    }
    return [this.crosscoderIdentity, undefined];
  }

  private emit(e: AnnotationChange): void {
    for (const l of [...this.listeners]) l(e);
  }

  private startWatching(): void {
    const name = basename(this.filePath);
    try {
      this.watcher = watch(dirname(this.filePath), (_event, file) => {
        if (file !== null && file !== name) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          if (!this.disposed) this.load(true);
        }, this.options.debounceMs ?? 100);
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      // The folder does not exist yet: the host's own file watcher (or reload()) covers this case.
    }
  }
}

function diffLatents(before: AnnotationSection, after: AnnotationSection): number[] {
  const out: number[] = [];
  for (const [latent, r] of after) {
    const old = before.get(latent);
    if (!old || recordJson(old) !== recordJson(r)) out.push(latent);
  }
  for (const latent of before.keys()) if (!after.has(latent)) out.push(latent);
  return out.sort((a, b) => a - b);
}
