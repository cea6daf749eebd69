/**
 * Every error caused by user input (a file, a setting, a document) is a LatentDiffError: it names the
 * file (or thing) at fault and says what is wrong with it, so the UI and CLI can show it as is.
 */
export class LatentDiffError extends Error {
  constructor(
    readonly file: string | undefined,
    readonly problem: string,
    readonly code: string = 'invalid-input',
  ) {
    super(file ? `${file}: ${problem}` : problem);
    this.name = 'LatentDiffError';
  }
}

export function isLatentDiffError(e: unknown): e is LatentDiffError {
  return e instanceof LatentDiffError;
}

/** A plain, serialisable form of any error, for the worker protocol and the CLI. */
export interface ErrorInfo {
  message: string;
  file?: string;
  code: string;
}

export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof LatentDiffError) return { message: e.message, file: e.file, code: e.code };
  if (e instanceof Error) return { message: e.message, code: 'internal' };
  return { message: String(e), code: 'internal' };
}

export function fromErrorInfo(info: ErrorInfo): Error {
  return info.code === 'internal' ? new Error(info.message) : new LatentDiffError(info.file, info.message.replace(`${info.file}: `, ''), info.code);
}
