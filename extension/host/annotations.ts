/**
 * The workspace's annotation file for the open crosscoder (engine/annotations/store.ts does the file
 * work: atomic writes, merging, watching). This wires it to the bundle and the settings and reports a
 * malformed file once per problem; the store never overwrites such a file.
 */
import { isAbsolute, join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { AnnotationStore } from '../engine/annotations/store';
import type { Annotation, AnnotationPatch, Evidence } from '../engine/annotations/types';
import type { Session } from './session';

export const DEFAULT_ANNOTATIONS_FILE = join('.latent-diff', 'annotations.json');

export class Annotations implements vscode.Disposable {
  private store: AnnotationStore | undefined;
  private storeSub: { dispose(): void } | undefined;
  private reported = '';
  private readonly emitter = new vscode.EventEmitter<number[]>();
  readonly onDidChange = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly session: Session) {
    this.subs.push(session.onDidChangeBundle(() => this.reopen()));
  }

  /** The annotation file in use, or undefined when there is no workspace folder or no bundle yet. */
  get filePath(): string | undefined {
    return this.store?.filePath;
  }

  /** Why annotations cannot be edited now ('' when they can). */
  get problem(): string {
    if (!this.session.bundle) return 'Open a bundle first.';
    if (!this.store) return 'Open a folder or workspace to keep annotations: they are stored in a file inside it.';
    const e = this.store.error;
    return e ? e.message : '';
  }

  /** Resolves the file from the setting: relative paths are inside the first workspace folder. */
  private resolveFile(): string | undefined {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const configured = this.session.settings.annotationsFile;
    if (configured && isAbsolute(configured)) return configured;
    if (!root) return undefined;
    return resolve(root, configured || DEFAULT_ANNOTATIONS_FILE);
  }

  reopen(): void {
    this.storeSub?.dispose();
    this.store?.dispose();
    this.store = undefined;
    const bundle = this.session.bundle;
    const file = this.resolveFile();
    if (bundle && file) {
      this.store = AnnotationStore.open(file, bundle.info.crosscoderIdentity, { formerIdentities: bundle.info.crosscoderFormerIdentities });
      this.storeSub = this.store.onDidChange((e) => {
        this.reportProblem();
        this.emitter.fire(e.latents);
      });
      this.reportProblem();
    }
    this.emitter.fire([]);
  }

  private reportProblem(): void {
    const e = this.store?.error;
    const message = e ? e.message : '';
    if (message && message !== this.reported) {
      void vscode.window.showWarningMessage(vscode.l10n.t('Latent Diff: the annotations file cannot be used: {0}. It will not be overwritten; fix it and it reloads.', message), vscode.l10n.t('Open File')).then((pick) => {
        if (pick && this.store) void vscode.window.showTextDocument(vscode.Uri.file(this.store.filePath));
      });
    }
    this.reported = message;
  }

  get(latent: number): Annotation | undefined {
    return this.store?.get(latent);
  }

  all(): Annotation[] {
    return this.store?.all() ?? [];
  }

  label(latent: number): string {
    return this.store?.get(latent)?.label ?? '';
  }

  private writable(): AnnotationStore {
    const problem = this.problem;
    if (problem || !this.store) throw new Error(problem || vscode.l10n.t('annotations are not available'));
    return this.store;
  }

  /** Writes only the fields the patch names, so another window's edit of the others is kept. */
  async upsert(latent: number, patch: AnnotationPatch): Promise<Annotation> {
    return this.writable().upsert(latent, patch);
  }

  async addEvidence(latent: number, evidence: Evidence): Promise<Annotation> {
    return this.writable().addEvidence(latent, evidence);
  }

  exportJson(): string {
    return this.writable().exportJson();
  }

  exportCsv(): string {
    return this.writable().exportCsv();
  }

  async importText(text: string, csv: boolean, source: string): Promise<number> {
    const s = this.writable();
    return (await (csv ? s.importCsv(text, source) : s.importJson(text, source))).imported;
  }

  dispose(): void {
    this.storeSub?.dispose();
    this.store?.dispose();
    this.emitter.dispose();
    for (const s of this.subs) s.dispose();
  }
}
