/**
 * Talks to the probe extension (scripts/code-server/probe) running in code-server's extension host: runs
 * commands there and reads Latent Diff's test hook (`latentDiff._test.state`, enabled by LATENT_DIFF_TEST_HOOK=1).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { waitFor } from './wait';

export const PROBE_EXTENSION_DIR = join(import.meta.dirname, 'probe');
export const TEST_STATE_COMMAND = 'latentDiff._test.state';

interface Reply {
  ok: boolean;
  result?: unknown;
  error?: string;
}

function post(port: number, body: object): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', timeout: 60_000 }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text) as Reply);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('probe request timed out')));
    req.end(JSON.stringify(body));
  });
}

export class ProbeClient {
  /** `dir` is the LATENT_DIFF_PROBE_DIR given to code-server. */
  constructor(readonly dir: string) {}

  /** The extension host process the probe runs in (changes after a window reload). */
  private endpoint(): { port: number; pid: number } {
    return JSON.parse(readFileSync(join(this.dir, 'port'), 'utf8')) as { port: number; pid: number };
  }

  async call(op: string, extra: object = {}): Promise<unknown> {
    const reply = await post(this.endpoint().port, { op, ...extra });
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  }

  /** Waits until a probe answers, in an extension host other than `notPid` (to wait across a reload). */
  async waitReady(notPid?: number, timeoutMs = 60_000): Promise<number> {
    return waitFor('the extension host (probe extension) to answer', async () => {
      const { pid } = (await this.call('ping')) as { pid: number };
      return pid !== notPid && pid;
    }, { timeoutMs });
  }

  command<T = unknown>(command: string, ...args: unknown[]): Promise<T> {
    return this.call('command', { command, args }) as Promise<T>;
  }

  /** Latent Diff's test state; waits for the extension to register the hook. */
  async state<T = Record<string, unknown>>(timeoutMs = 30_000): Promise<T> {
    return waitFor(`command ${TEST_STATE_COMMAND}`, () => this.command<T>(TEST_STATE_COMMAND), { timeoutMs });
  }

  /** Polls the test state until `accept` returns a value. */
  waitForState<S, T>(what: string, accept: (s: S) => T | undefined | null | false, timeoutMs = 60_000): Promise<T> {
    return waitFor(what, async () => accept(await this.command<S>(TEST_STATE_COMMAND)), { timeoutMs });
  }
}
