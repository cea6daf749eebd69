/**
 * Typed access to bundle.json fields: each accessor names the field (dotted path) and bundle.json when
 * the value is missing, ill-typed, or points at a file or folder that does not exist.
 */
import { statSync, type Stats } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { LatentDiffError } from '../errors';
import { isJsonObject, type JsonObject } from './json-file';

export class BundleFields {
  constructor(
    /** Path of bundle.json. */
    readonly file: string,
    /** The bundle folder, which relative paths resolve against. */
    readonly dir: string,
  ) {}

  fail(field: string, problem: string, code?: string): LatentDiffError {
    return new LatentDiffError(this.file, `field "${field}": ${problem}`, code);
  }

  private raw(obj: JsonObject, key: string, field: string, optional: boolean): unknown {
    const v = obj[key];
    if ((v === undefined || v === null) && !optional) throw this.fail(field, 'is missing', 'missing-field');
    return v ?? undefined;
  }

  object(obj: JsonObject, key: string, field: string): JsonObject {
    const v = this.raw(obj, key, field, false);
    if (!isJsonObject(v)) throw this.fail(field, `should be an object, got ${JSON.stringify(v)}`);
    return v;
  }

  string(obj: JsonObject, key: string, field: string): string;
  string(obj: JsonObject, key: string, field: string, optional: true): string | undefined;
  string(obj: JsonObject, key: string, field: string, optional = false): string | undefined {
    const v = this.raw(obj, key, field, optional);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.trim() === '') throw this.fail(field, `should be a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  }

  integer(obj: JsonObject, key: string, field: string, min: number): number;
  integer(obj: JsonObject, key: string, field: string, min: number, optional: true): number | undefined;
  integer(obj: JsonObject, key: string, field: string, min: number, optional = false): number | undefined {
    const v = this.raw(obj, key, field, optional);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw this.fail(field, `should be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  }

  /** Resolves a path (relative to the bundle folder, or absolute) that must exist as a file or a folder. */
  path(obj: JsonObject, key: string, field: string, kind: 'file' | 'folder'): string;
  path(obj: JsonObject, key: string, field: string, kind: 'file' | 'folder', optional: true): string | undefined;
  path(obj: JsonObject, key: string, field: string, kind: 'file' | 'folder', optional = false): string | undefined {
    const p = optional ? this.string(obj, key, field, true) : this.string(obj, key, field);
    if (p === undefined) return undefined;
    const full = isAbsolute(p) ? p : resolve(this.dir, p);
    let stats: Stats;
    try {
      stats = statSync(full);
    } catch {
      throw this.fail(field, `${kind} not found: ${full}`, 'not-found');
    }
    const isDir = stats.isDirectory();
    if (isDir !== (kind === 'folder')) throw this.fail(field, `${full} is a ${isDir ? 'folder' : 'file'}, expected a ${kind}`, 'not-found');
    // A named pipe or device would block whoever reads it.
    if (kind === 'file' && !stats.isFile()) throw this.fail(field, `${full} is not a regular file (a named pipe, device or socket)`, 'not-regular-file');
    return full;
  }
}
