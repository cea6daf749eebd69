/**
 * The webviews' `t('Label {0}', x)`: the host's translated strings, embedded in the page as JSON data
 * (#latent-diff-l10n, see extension/presentation/webview-html.ts), are loaded when this module is first
 * imported, so every string a webview builds, at load or later, is already translated. A page without them
 * (the exported token view opened outside VS Code) shows the English defaults.
 */
import { configureL10n, t, type L10nContents } from '../../extension/protocol/l10n';

const data = typeof document === 'undefined' ? null : document.getElementById('latent-diff-l10n')?.textContent;
configureL10n(data ? (JSON.parse(data) as L10nContents) : undefined);

export { t };
