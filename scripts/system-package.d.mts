export class SetupError extends Error {}
export function ensureSystemPackage(o: { present: () => boolean; pkg: string; why: string; log?: (m: string) => void }): void;
