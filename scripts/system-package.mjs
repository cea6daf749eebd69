// A system package `npm start` needs (Kerberos headers for code-server's install, Chromium for --check):
// present, installed with apt-get when running as root (saying so), or a SetupError whose one-line message
// names the exact command to run. LATENT_DIFF_NO_INSTALL=1 never installs (CI, tests).
import { spawnSync } from 'node:child_process';

export class SetupError extends Error {}

function onPath(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** present(): whether it is there; pkg: the Debian/Ubuntu package; why: what needs it (for the messages). */
export function ensureSystemPackage({ present, pkg, why, log = (m) => console.log(m) }) {
  if (present()) return;
  const command = `apt-get install -y ${pkg}`;
  const root = process.getuid?.() === 0;
  if (root && onPath('apt-get') && process.env.LATENT_DIFF_NO_INSTALL !== '1') {
    log(`${why} needs ${pkg}: installing it with \`${command}\` (running as root)...`);
    let r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit' });
      r = spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    }
    if (r.status === 0 && present()) return;
    throw new SetupError(`${why} needs ${pkg}, and \`${command}\` did not install it: install it by hand, then run this again`);
  }
  throw new SetupError(`${why} needs ${pkg}: run \`${root ? '' : 'sudo '}${command}\` (Debian/Ubuntu), then run this again`);
}
