/**
 * Extension activation cost (SPEC 9: < 50 ms): loading dist/extension.js and running activate() against a
 * stand-in `vscode` module whose every API call is a no-op, in a fresh Node process per run. This measures
 * our own module evaluation and wiring (what the budget is about: nothing heavy at activation); VS Code's
 * own work to register contributions is not included. `npm run bench activation [-- --reps N]`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { probeActivation, type ActivationProbe } from '../support/activation-probe';
import { median, type Bench } from './bench';

const ROOT = join(__dirname, '..', '..');

export const bench: Bench = {
  name: 'activation',
  description: 'extension activation: load dist/extension.js + activate() with a no-op vscode stand-in (budget 50 ms)',
  default: true,
  async run(args) {
    const entry = join(ROOT, 'dist', 'extension.js');
    if (!existsSync(entry)) throw new Error('dist/extension.js is missing: run npm run build first');
    const i = args.indexOf('--reps');
    const reps = i >= 0 ? Math.max(1, Number(args[i + 1]) || 7) : 7;
    const runs: ActivationProbe[] = [];
    for (let r = 0; r < reps; r++) runs.push(probeActivation(ROOT));
    const load = median(runs.map((x) => x.load));
    const activate = median(runs.map((x) => x.activate));
    console.log(`activation, median of ${reps} fresh processes:`);
    console.log(`  require dist/extension.js   ${load.toFixed(1)} ms`);
    console.log(`  activate()                  ${activate.toFixed(1)} ms`);
    console.log(`  total                       ${(load + activate).toFixed(1)} ms  (${((load + activate) / 50).toFixed(2)} x the 50 ms budget)`);
    console.log(`  heavy modules loaded (ORT, tokenizers, SQLite): ${runs[0].heavyModules}; disposables registered: ${runs[0].subscriptions}`);
  },
};
