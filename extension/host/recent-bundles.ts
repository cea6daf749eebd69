/** The bundles opened lately, newest first, kept in global state; no vscode import for the list logic. */
export const RECENT_BUNDLES_KEY = 'latentDiff.recentBundles';
export const MAX_RECENT_BUNDLES = 8;

/** `dir` moved (or added) to the front, duplicates dropped, at most `max` entries. */
export function withRecent(list: readonly string[], dir: string, max = MAX_RECENT_BUNDLES): string[] {
  return [dir, ...list.filter((d) => d !== dir)].slice(0, max);
}
