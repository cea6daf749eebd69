/** Editor navigation the webviews ask for: show a token of the analysed text, open a piece of evidence. */
import { isAbsolute } from 'node:path';
import * as vscode from 'vscode';
import type { Evidence } from '../engine/annotations/types';
import type { CurrentAnalysis } from './session';

/** Editors currently showing the analysed document. */
export function analysedEditors(analysis: CurrentAnalysis | undefined): vscode.TextEditor[] {
  if (!analysis) return [];
  const uri = analysis.uri.toString();
  return vscode.window.visibleTextEditors.filter((e) => e.document.uri.toString() === uri);
}

export async function revealToken(analysis: CurrentAnalysis | undefined, index: number): Promise<void> {
  const tok = analysis?.result.tokens[index];
  if (!analysis || !tok || tok.start === null || tok.end === null) return;
  const doc = await vscode.workspace.openTextDocument(analysis.uri);
  if (doc.version !== analysis.version) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Latent Diff: the document changed since it was analysed; run Analyze Document again.'));
    return;
  }
  const range = new vscode.Range(doc.positionAt(analysis.base + tok.start), doc.positionAt(analysis.base + tok.end));
  const editor = await vscode.window.showTextDocument(doc, { preserveFocus: false, viewColumn: analysedEditors(analysis)[0]?.viewColumn ?? vscode.ViewColumn.One });
  editor.selection = new vscode.Selection(range.start, range.end);
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

/** Evidence paths are workspace-relative (as stored in the annotation file) or absolute. */
export function evidenceUri(file: string): vscode.Uri | undefined {
  if (isAbsolute(file)) return vscode.Uri.file(file);
  const root = vscode.workspace.workspaceFolders?.[0]?.uri;
  return root && vscode.Uri.joinPath(root, file);
}

export async function openEvidence(e: Evidence): Promise<void> {
  const uri = evidenceUri(e.file);
  if (!uri) return;
  const range = new vscode.Range(e.range.start.line, e.range.start.character, e.range.end.line, e.range.end.character);
  await vscode.window.showTextDocument(uri, { selection: range });
}

/** How a file is named in evidence: relative to its workspace folder when inside one. */
export function evidencePath(uri: vscode.Uri): string {
  return vscode.workspace.asRelativePath(uri, false);
}
