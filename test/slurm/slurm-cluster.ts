/**
 * Starts and stops a real single-node Slurm cluster for the tests (Debian's munge, slurmctld and slurmd, started
 * directly as daemons, no systemd; platform-notes.md "A real Slurm cluster on one machine"). Every file of the
 * cluster (config, state, spool, logs, pid files) lives in a temporary folder; the daemons are stopped by the PIDs
 * in their pid files, also when a test fails. Each cluster runs its own munged on its own socket and key in that
 * folder (slurm.conf's AuthInfo=socket=...), so it neither depends on nor disturbs a munged of the machine or of
 * another test run: sharing the machine's one socket let one run's stop pull munge from under another's jobs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SBIN = '/usr/sbin';
const BINARIES = [join(SBIN, 'slurmctld'), join(SBIN, 'slurmd'), join(SBIN, 'munged'), '/usr/bin/sbatch', '/usr/bin/squeue'];

/** Why Slurm cannot run here, or undefined when it can. Under CI=true the caller must fail instead of skipping. */
export function slurmMissing(): string | undefined {
  const missing = BINARIES.filter((b) => !existsSync(b));
  if (missing.length) return `Slurm is not installed (${missing.join(', ')} missing): apt-get install slurmctld slurmd slurm-client munge, as .ci/run does`;
  if (process.getuid?.() !== 0) return 'the Slurm tests start slurmctld and slurmd, which needs root';
  return undefined;
}

export interface SlurmCluster {
  dir: string;
  /** The environment for client calls (SLURM_CONF); jobs inherit it. */
  env: NodeJS.ProcessEnv;
  /** Runs a Slurm client command and returns its stdout. */
  client(cmd: string, args: string[]): string;
  /** Resolves once none of the jobs is in the queue any more. */
  waitGone(jobIds: string[]): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const mungeWorks = (socket: string) => spawnSync('bash', ['-c', 'munge -S "$1" -n | unmunge -S "$1"', 'munge-check', socket], { stdio: 'ignore' }).status === 0;

/** Polls `check` until it is true (each poll waits for a child process, so this is not a timing assumption). */
async function until(what: string, check: () => boolean, limitMs = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > limitMs) throw new Error(`Slurm test cluster: gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function pidOf(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopPid(pid: number | undefined): Promise<void> {
  if (pid === undefined || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  await until(`process ${pid} to exit`, () => !alive(pid), 30_000).catch(() => process.kill(pid, 'SIGKILL'));
}

export async function startSlurmCluster(): Promise<SlurmCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ld-slurm-'));
  // munged refuses a socket whose folders are not executable by everyone.
  chmodSync(dir, 0o755);
  for (const d of ['state', 'spool', 'log', 'munge']) mkdirSync(join(dir, d), { mode: 0o755 });
  const munge = join(dir, 'munge');
  const socket = join(munge, 'munge.socket');
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    stops.length = 0;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    execFileSync('mungekey', ['--create', `--keyfile=${join(munge, 'munge.key')}`]);
    execFileSync(join(SBIN, 'munged'), [`--socket=${socket}`, `--key-file=${join(munge, 'munge.key')}`, `--pid-file=${join(munge, 'munged.pid')}`,
      `--log-file=${join(munge, 'munged.log')}`, `--seed-file=${join(munge, 'munged.seed')}`]);
    stops.push(() => stopPid(pidOf(join(munge, 'munged.pid'))));
    await until('munge', () => mungeWorks(socket));
    const node = execFileSync(join(SBIN, 'slurmd'), ['-C'], { encoding: 'utf8' }).split('\n')[0].replace(/^NodeName=\S+/, 'NodeName=localhost');
    const [ctldPort, dPort] = [await freePort(), await freePort()];
    const conf = join(dir, 'slurm.conf');
    writeFileSync(conf, [
      'ClusterName=latentdiff', 'SlurmctldHost=localhost', `SlurmctldPort=${ctldPort}`, `SlurmdPort=${dPort}`, 'SlurmUser=root',
      'AuthType=auth/munge', `AuthInfo=socket=${socket}`, 'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none',
      'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core',
      'SchedulerParameters=batch_sched_delay=0,sched_min_interval=0', 'ReturnToService=2', 'MailProg=/bin/true',
      'AccountingStorageType=accounting_storage/none', 'JobAcctGatherType=jobacct_gather/none',
      'JobCompType=jobcomp/filetxt', `JobCompLoc=${join(dir, 'log', 'jobcomp.txt')}`, 'KillWait=5',
      `StateSaveLocation=${join(dir, 'state')}`, `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`, `SlurmdLogFile=${join(dir, 'log', 'slurmd.log')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`, `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      node.trim(), 'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP', '',
    ].join('\n'));
    const env = { ...process.env, SLURM_CONF: conf };
    execFileSync(join(SBIN, 'slurmctld'), [], { env });
    stops.push(() => stopPid(pidOf(join(dir, 'slurmctld.pid'))));
    execFileSync(join(SBIN, 'slurmd'), ['-N', 'localhost'], { env });
    stops.push(() => stopPid(pidOf(join(dir, 'slurmd.pid'))));
    const client = (cmd: string, args: string[]) => execFileSync(cmd, args, { env, encoding: 'utf8' });
    await until('the node to be idle', () => spawnSync('sinfo', ['-h', '-n', 'localhost', '-o', '%T'], { env, encoding: 'utf8' }).stdout.trim() === 'idle');
    stops.push(async () => void spawnSync('scancel', ['--user=root'], { env }));
    return {
      dir, env, client, stop,
      waitGone: (ids) => until(`jobs ${ids.join(', ')} to leave the queue`, () => {
        const q = spawnSync('squeue', ['-h', '-j', ids.join(','), '-o', '%i'], { env, encoding: 'utf8' });
        return q.status !== 0 || q.stdout.trim() === '';
      }, 600_000),
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
