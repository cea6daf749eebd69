/**
 * l10n/bundle.l10n.json: the UI's English strings keyed by themselves, what `@vscode/l10n-dev export`
 * writes and translators copy to bundle.l10n.<locale>.json. The strings are the literal first arguments of
 * vscode.l10n.t(...) (the host) and of t(...) imported from an l10n module (extension/protocol/l10n.ts and
 * webview/common/l10n.ts: the webviews and the presentation code), read with the TypeScript parser from
 * extension/ and webview/. `npm run l10n` rewrites the file after strings change;
 * test/unit/l10n-bundle.test.ts checks it.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

export const ROOT = resolve(import.meta.dirname, '..');
export const BUNDLE = join(ROOT, 'l10n', 'bundle.l10n.json');
const SOURCES = ['extension', 'webview'];

export interface L10nCall {
  /** file:line */
  where: string;
  message: string;
  /** Arguments after the message. */
  args: number;
}

export interface L10nScan {
  calls: L10nCall[];
  /** Calls whose message is not a string literal: nothing can extract them for translators. */
  problems: string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The local names `t` is imported under from an l10n module in this file. */
function l10nImports(file: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  for (const s of file.statements) {
    if (!ts.isImportDeclaration(s) || !ts.isStringLiteral(s.moduleSpecifier) || !/\/l10n$/.test(s.moduleSpecifier.text)) continue;
    const bindings = s.importClause?.namedBindings;
    if (bindings && ts.isNamedImports(bindings)) {
      for (const e of bindings.elements) if ((e.propertyName ?? e.name).text === 't') names.add(e.name.text);
    }
  }
  return names;
}

function isL10nCall(call: ts.CallExpression, local: Set<string>): boolean {
  const callee = call.expression;
  if (ts.isIdentifier(callee)) return local.has(callee.text);
  return ts.isPropertyAccessExpression(callee) && callee.name.text === 't' && callee.expression.getText() === 'vscode.l10n';
}

export function scanL10nStrings(root = ROOT): L10nScan {
  const calls: L10nCall[] = [];
  const problems: string[] = [];
  for (const path of SOURCES.flatMap((d) => sourceFiles(join(root, d)))) {
    const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
    const local = l10nImports(file);
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && isL10nCall(node, local)) {
        const where = `${relative(root, path)}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
        const [message, ...args] = node.arguments;
        if (message && (ts.isStringLiteral(message) || ts.isNoSubstitutionTemplateLiteral(message))) calls.push({ where, message: message.text, args: args.length });
        else problems.push(`${where}: the message is not a string literal`);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return { calls, problems };
}

/** The bundle's contents for a scan: each message once, keyed by itself, sorted. */
export function englishBundle(scan: L10nScan): Record<string, string> {
  const keys = [...new Set(scan.calls.map((c) => c.message))].sort();
  return Object.fromEntries(keys.map((k) => [k, k]));
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const scan = scanL10nStrings();
  if (scan.problems.length) {
    console.error(scan.problems.join('\n'));
    process.exit(1);
  }
  const bundle = englishBundle(scan);
  writeFileSync(BUNDLE, `${JSON.stringify(bundle, null, 2)}\n`);
  console.log(`${relative(ROOT, BUNDLE)}: ${Object.keys(bundle).length} strings`);
}
