// The real trial: `rootless run -- cat /proc/self/uid_map` through the
// installed launcher (bin/rootless, the same code path a user's run takes),
// timed from spawn to exit.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Check } from './types.js';

export interface TrialOutcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** bin/rootless of this package (dist/src/<dir>/x.js and the bundle dist/src/cli/rootless.cjs are both three levels down). */
export function launcherPath(): string {
  return fileURLToPath(new URL('../../../bin/rootless', import.meta.url));
}

export function runTrial(bin = launcherPath(), env: NodeJS.ProcessEnv = process.env): Promise<TrialOutcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(bin, ['run', '--', 'cat', '/proc/self/uid_map'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => resolve({ code: null, signal: null, stdout, stderr: `${stderr}${err.message}\n`, ms: performance.now() - started }));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - started }));
  });
}

/** The trial's outcome as a check: fail when it did not run, warn when only one id was mapped. */
export function trialCheck(o: TrialOutcome): Check {
  const took = `${Math.round(o.ms)} ms`;
  const lines = o.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' ')).filter((l) => l !== '');
  if (o.code !== 0) {
    const why = o.stderr.split('\n').find((l) => /^rootless: error: /.test(l))?.replace(/^rootless: error: /, '') ?? (o.stderr.trim().split('\n').pop() || `exit ${o.code ?? o.signal}`);
    return { name: 'trial', status: 'fail', message: `rootless run -- cat /proc/self/uid_map failed after ${took}: ${why}`, fix: 'fix the failed checks above, then run rootless doctor again' };
  }
  const map = lines.join(', ');
  if (lines.length <= 1) {
    return { name: 'trial', status: 'warn', message: `a user namespace was made in ${took}, but it maps only your own id (uid map: ${map})`, fix: 'see the subuid/subgid checks above' };
  }
  return { name: 'trial', status: 'ok', message: `rootless run made a user namespace with the sub-id maps in ${took} (uid map: ${map})` };
}
