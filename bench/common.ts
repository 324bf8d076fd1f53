// Shared by the benchmarks: who to run as, medians, tables.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { launcherUser, type TestUser } from '../test/helpers/user.js';
import { userEnv } from '../test/helpers/rootless.js';

export function benchUser(): TestUser {
  const u = launcherUser();
  if (typeof u === 'string') throw new Error(u);
  return u;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

export function spawnOpts(user: TestUser, env: Record<string, string | undefined> = {}): SpawnSyncOptions {
  return {
    env: userEnv(user, env),
    cwd: '/tmp',
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
  };
}

/** Wall time of one run in ms; throws if it fails. */
export function timeOnce(argv: string[], opts: SpawnSyncOptions): number {
  const t = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), opts);
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${String(r.stderr)}`);
  return ms;
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}
