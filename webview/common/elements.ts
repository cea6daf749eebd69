/**
 * The @vscode-elements/elements components the webviews use (the maintained successor of the sunset
 * @vscode/webview-ui-toolkit; same vscode-* tag names). Importing registers the custom elements.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-divider/index.js';

/** The value of a vscode-textfield / vscode-textarea / vscode-single-select. */
export function valueOf(node: Element): string {
  return String((node as unknown as { value?: unknown }).value ?? '');
}

export function setValue(node: Element, value: string): void {
  (node as unknown as { value: string }).value = value;
}

export function isChecked(node: Element): boolean {
  return Boolean((node as unknown as { checked?: unknown }).checked);
}
