// bench/session: what one command costs in an open session (openSession,
// src/session/) against `unshare --map-root-user --map-auto` and `fakeroot`
// doing the same per call, and against the floor: the same command spawned
// bare from Node (spawnSync, no namespace at all). Two commands: `true` and
// `chown 1000:1000 FILE`. The four ways alternate call by call; figures are
// medians in ms; ratios compare within this one run.
//
//   npm run build:ts && node dist/bench/session.js [--runs N] [--exec]   (default 500)
//
// --exec adds `rootless exec --state-dir DIR -- CMD` into the same session
// (a node process that joins the namespaces itself) as a sixth way.
//
// Run as root, it runs everything as the test user (scripts/setup-test-env.sh).
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSession, rootlessBin } from '../src/index.js';
import { userEnv } from '../test/helpers/rootless.js';
import { benchUser, median, spawnOpts, table, timeOnce } from './common.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 500;
const withExec = args.includes('--exec');
const user = benchUser();
const opts = spawnOpts(user);

const dir = mkdtempSync(join(tmpdir(), 'rootless-bench-session-'));
const file = join(dir, 'f');
const own = join(dir, 'own'); // the bare chown's: the user's own, to the user
for (const f of [file, own]) writeFileSync(f, '');
for (const f of [dir, file, own]) chownSync(f, user.uid, user.gid);

const s = await openSession({}, { env: userEnv(user), ...(user.switchTo ?? {}) });

type Way = 'bare' | 'session' | 'spawn' | 'unshare' | 'fakeroot' | 'exec';
const WAYS: Way[] = ['bare', 'session', 'spawn', 'unshare', 'fakeroot', ...(withExec ? ['exec' as const] : [])];
const LABEL: Record<Way, string> = {
  bare: 'bare `spawnSync`', session: 'session `s.run`', spawn: 'session `s.spawn` (stdio ignored)',
  unshare: '`unshare --map-root-user --map-auto`', fakeroot: '`fakeroot`', exec: '`rootless exec --state-dir DIR --`',
};
const COMMANDS: Record<string, { argv: string[]; bare: string[] }> = {
  true: { argv: ['true'], bare: ['true'] },
  // Bare, the user cannot chown to a sub-uid: it chowns to itself (one exec all the same).
  chown: { argv: ['chown', '1000:1000', file], bare: ['chown', `${user.uid}:${user.gid}`, own] },
};

async function once(way: Way, cmd: { argv: string[]; bare: string[] }): Promise<number> {
  if (way === 'bare') return timeOnce(cmd.bare, opts);
  if (way === 'unshare') return timeOnce(['unshare', '--map-root-user', '--map-auto', ...cmd.argv], opts);
  if (way === 'fakeroot') return timeOnce(['fakeroot', ...cmd.argv], opts);
  if (way === 'exec') return timeOnce([rootlessBin(), 'exec', '--state-dir', s.stateDir, '--', ...cmd.argv], opts);
  const t = performance.now();
  if (way === 'spawn') {
    const p = s.spawn(cmd.argv, { stdio: 'ignore' });
    const code = await new Promise<number | null>((res, rej) => (p.once('close', res), p.once('error', rej)));
    const ms = performance.now() - t;
    if (code !== 0) throw new Error(`${cmd.argv.join(' ')} failed in the session (${code})`);
    return ms;
  }
  const r = await s.run(cmd.argv);
  const ms = performance.now() - t;
  if (r.code !== 0) throw new Error(`${cmd.argv.join(' ')} failed in the session (${r.code}): ${r.stderr}`);
  return ms;
}

const rows: (string | number)[][] = [];
try {
  for (const [name, cmd] of Object.entries(COMMANDS)) {
    const times: Record<Way, number[]> = { bare: [], session: [], spawn: [], unshare: [], fakeroot: [], exec: [] };
    for (let i = 0; i < runs; i++) for (const way of WAYS) times[way].push(await once(way, cmd));
    const m = Object.fromEntries(WAYS.map((w) => [w, median(times[w])])) as Record<Way, number>;
    for (const way of WAYS) {
      rows.push([name, LABEL[way], m[way].toFixed(2), (m[way] / m.bare).toFixed(2), (m[way] / m.unshare).toFixed(2)]);
    }
  }
} finally {
  await s.close();
  rmSync(dir, { recursive: true, force: true }); // as root: the sub-uid's file goes too
}
process.stdout.write(`${runs} calls of each, alternating; median ms per command; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n\n`);
process.stdout.write(`${table(['command', 'way', 'ms', 'x bare spawn', 'x unshare --map-auto'], rows)}\n`);
