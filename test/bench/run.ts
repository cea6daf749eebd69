/**
 * Benchmark entry: `npm run bench` runs every default benchmark, `npm run bench <name> [args...]` one of them.
 * Each benchmark lives in its own file here and exports `bench` (bench.ts); this file only finds and runs them.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Bench } from './bench';

async function findBenches(): Promise<Bench[]> {
  const dir = __dirname;
  const found: Bench[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== basename(__filename)).sort()) {
    const mod = (await import(join(dir, file))) as { bench?: Bench };
    if (mod.bench) found.push(mod.bench);
  }
  return found;
}

async function main(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const benches = await findBenches();
  const chosen = name ? benches.filter((b) => b.name === name) : benches.filter((b) => b.default);
  if (name && chosen.length === 0) {
    console.error(`unknown benchmark "${name}"; available: ${benches.map((b) => b.name).join(', ')}`);
    process.exit(2);
  }
  for (const b of chosen) {
    console.log(`\n=== ${b.name}: ${b.description}`);
    await b.run(args);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
