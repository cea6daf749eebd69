/** A small strict argument parser: known flags only, values checked, errors say which flag is wrong. */
export class UsageError extends Error {}

export interface FlagSpec {
  /** 'bool' flags take no value; 'string' flags take one; 'list' flags take one or more until the next flag. */
  [name: string]: 'bool' | 'string' | 'list';
}

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string[]>;
}

export function parseArgs(argv: string[], spec: FlagSpec): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'bool') {
      flags.set(name, []);
      continue;
    }
    const values = inline !== undefined ? [inline] : [];
    while (inline === undefined && i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
      values.push(argv[++i]);
      if (kind === 'string') break;
    }
    if (values.length === 0) throw new UsageError(`--${name} needs a value`);
    flags.set(name, [...(flags.get(name) ?? []), ...values]);
  }
  return { positional, flags };
}

export function intFlag(args: ParsedArgs, name: string, min: number): number | undefined {
  const v = args.flags.get(name)?.[0];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}
