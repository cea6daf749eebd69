/**
 * UI strings outside the vscode API: the webviews and the host's presentation code (what it builds for
 * them). The same contract as vscode.l10n.t: the English string is the key (l10n/bundle.l10n.json lists
 * them all), {0}, {1}... are placeholders. The translated table is vscode.l10n.bundle (undefined in
 * English): the host sets it at activation and hands it to each webview in its HTML (webview-html.ts), which
 * sets it here before anything renders (webview/common/l10n.ts). Where nothing sets it (the CLI, its HTML
 * export) the English defaults show. No vscode import.
 */
export type L10nContents = Record<string, string>;

let contents: L10nContents = {};

export function configureL10n(bundle: L10nContents | undefined): void {
  contents = bundle ?? {};
}

/** `message` in the UI's language with {0}, {1}... replaced by `args` (a placeholder without an argument stays). */
export function t(message: string, ...args: Array<string | number | boolean>): string {
  const template = Object.hasOwn(contents, message) && typeof contents[message] === 'string' ? contents[message] : message;
  return template.replace(/\{(\d+)\}/g, (whole, i: string) => (Number(i) < args.length ? String(args[Number(i)]) : whole));
}
