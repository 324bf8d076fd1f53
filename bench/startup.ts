// bench/startup: how long `rootless run -- true` takes, against
// `rootlesskit true` (Debian's rootlesskit) and `unshare -r true`, and how
// much memory the launcher's own processes hold while the target runs.
// Commands alternate within one run; figures are medians; ratios compare
// against RootlessKit measured in the same run.
//
//   npm run build:ts && node dist/bench/startup.js [--runs N] [--out FILE] [--only startup|memory] [--settle-ms MS]
//
// --settle-ms: how long after child_pid appears the memory is read (default
// 1000; V8's memory reducer shrinks node's heap ~8 s after the start).
//
// Run as root, it runs everything as the test user (scripts/setup-test-env.sh).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, chownSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, descendants, userEnv } from '../test/helpers/rootless.js';
import { benchUser, fmt, median, spawnOpts, table, timeOnce } from './common.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] ?? 0) || 30;
const outFile = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const settleMs = args.includes('--settle-ms') ? Number(args[args.indexOf('--settle-ms') + 1]) : 1000;
const user = benchUser();
const CA = '/etc/ssl/certs/ca-certificates.crt';

const commands: [string, string[]][] = [
  ['rootless run -- true', [BIN, 'run', '--', 'true']],
  ['rootless run -- true, node child (ROOTLESS_NODE_CHILD=1)', ['env', 'ROOTLESS_NODE_CHILD=1', BIN, 'run', '--', 'true']],
  ['rootless run -- true, child kept (ROOTLESS_KEEP_CHILD=1)', ['env', 'ROOTLESS_KEEP_CHILD=1', BIN, 'run', '--', 'true']],
  ['rootlesskit true', ['rootlesskit', 'true']],
  ['unshare -r true', ['unshare', '-r', 'true']],
  ['node -e 0', [process.execPath, '-e', '0']],
];

function timings(env: Record<string, string | undefined>): Map<string, number> {
  const opts = spawnOpts(user, env);
  for (const [, argv] of commands) timeOnce(argv, opts); // warm caches
  const samples = new Map<string, number[]>(commands.map(([n]) => [n, []]));
  for (let i = 0; i < runs; i++) for (const [name, argv] of commands) samples.get(name)!.push(timeOnce(argv, opts));
  return new Map([...samples].map(([n, xs]) => [n, median(xs)]));
}

// --- where the time goes: ROOTLESS_TRACE_STARTUP marks, median offsets ----
function phases(): [string, number][] {
  const offsets = new Map<string, number[]>();
  for (let i = 0; i < Math.min(runs, 20); i++) {
    const t0 = performance.timeOrigin + performance.now();
    const r = spawnSync(BIN, ['run', '--', 'true'], { ...spawnOpts(user, { NODE_EXTRA_CA_CERTS: undefined, ROOTLESS_TRACE_STARTUP: '1' }), encoding: 'utf8' });
    for (const line of String(r.stderr).split('\n')) {
      const m = /^rootless-trace (\w+) (\S+) ([\d.]+)$/.exec(line);
      if (!m) continue;
      const key = `${m[1]} ${m[2]}`;
      if (!offsets.has(key)) offsets.set(key, []);
      offsets.get(key)!.push(Number(m[3]) - t0);
    }
  }
  return [...offsets].map(([k, xs]) => [k, median(xs)] as [string, number]).sort((a, b) => a[1] - b[1]);
}

// --- memory of the launcher's own processes while the target sleeps ------
// The launcher's processes: the one we started and its descendants (the
// child, the guard, slirp4netns), not the target (`sleep`). Without the
// child (src/parent/plan.ts targetReplacesChild) the parent is the only node;
// by default that child never ran node (src/parent/native-child.ts).
function smaps(pid: number): { rss: number; privateDirty: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kb('Rss'), privateDirty: kb('Private_Dirty') };
}

interface Memory {
  rss: number;
  privateDirty: number;
  processes: string[];
}

async function memory(argvFor: (stateDir: string) => string[], env: Record<string, string | undefined> = {}): Promise<Memory> {
  const base = mkdtempSync(join(tmpdir(), 'rootless-bench-'));
  if (user.switchTo) chownSync(base, user.uid, user.gid);
  const stateDir = join(base, 'state');
  const argv = argvFor(stateDir);
  const proc = spawn(argv[0]!, argv.slice(1), {
    env: userEnv(user, { NODE_EXTRA_CA_CERTS: undefined, ...env }),
    cwd: '/tmp',
    stdio: 'ignore',
    ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
  });
  const pidFile = join(stateDir, 'child_pid');
  for (let i = 0; i < 400 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, settleMs)); // let every process settle once the target runs
  // Not the target; not the state-dir guard, which shares the launcher's
  // memory (addon/ns.cc clones it with CLONE_VM: counting it would count the launcher twice).
  const comm = (pid: number): string => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  const tree = [proc.pid!, ...descendants(proc.pid!).map((d) => d.pid)]
    .map((pid) => ({ pid, name: comm(pid) }))
    .filter((p) => p.name !== 'sleep' && p.name !== 'rootless-guard');
  const total = tree.map((p) => smaps(p.pid)).reduce((a, b) => ({ rss: a.rss + b.rss, privateDirty: a.privateDirty + b.privateDirty }));
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('close', r));
  rmSync(base, { recursive: true, force: true });
  return { ...total, processes: tree.map((p) => p.name) };
}

const lines: string[] = [];
const say = (s = ''): void => {
  lines.push(s);
  process.stdout.write(`${s}\n`);
};

if (only !== 'memory') {
  say(`## Startup (median of ${runs} alternating runs, as uid ${user.uid})`);
  say();
  for (const [label, env] of [
    ['without NODE_EXTRA_CA_CERTS', { NODE_EXTRA_CA_CERTS: undefined }],
    [`with NODE_EXTRA_CA_CERTS=${CA}`, { NODE_EXTRA_CA_CERTS: CA }],
  ] as const) {
    const t = timings(env);
    const rk = t.get('rootlesskit true')!;
    say(`### ${label}`);
    say();
    say(table(['command', 'median ms', 'x rootlesskit'], commands.map(([n]) => [n, fmt(t.get(n)!), fmt(t.get(n)! / rk, 2)])));
    say();
  }

  say('### Where the time goes (rootless run -- true, median ms since spawn)');
  say();
  say(table(['mark', 'ms'], phases().map(([k, v]) => [k, fmt(v)])));
  say();
}

if (only !== 'startup') {
  const DOCKER_SHAPED = ['--net=slirp4netns', '--port-driver=builtin', '--copy-up=/etc', '--copy-up=/run'];
  const cases: [string, () => Promise<Memory>][] = [
    ['rootless run -- sleep', () => memory((dir) => [BIN, 'run', `--state-dir=${dir}`, '--', 'sleep', '30'])],
    ['rootless run -- sleep, child kept (ROOTLESS_KEEP_CHILD=1)', () => memory((dir) => [BIN, 'run', `--state-dir=${dir}`, '--', 'sleep', '30'], { ROOTLESS_KEEP_CHILD: '1' })],
    ['rootlesskit sleep', () => memory((dir) => ['rootlesskit', `--state-dir=${dir}`, 'sleep', '30'])],
    [`rootless run ${DOCKER_SHAPED.join(' ')} -- sleep`, () => memory((dir) => [BIN, 'run', `--state-dir=${dir}`, ...DOCKER_SHAPED, '--', 'sleep', '30'])],
    [`rootlesskit ${DOCKER_SHAPED.join(' ')} sleep`, () => memory((dir) => ['rootlesskit', `--state-dir=${dir}`, ...DOCKER_SHAPED, 'sleep', '30'])],
  ];
  const memRuns = Math.max(1, Math.min(5, Math.floor(runs / 6)));
  const mem = new Map<string, Memory[]>(cases.map(([n]) => [n, []]));
  for (let i = 0; i < memRuns; i++) for (const [name, measure] of cases) mem.get(name)!.push(await measure());
  const med = (name: string, key: 'rss' | 'privateDirty'): number => median(mem.get(name)!.map((m) => m[key]));
  say(`## Memory of the launcher's processes while the target sleeps (median of ${memRuns}, alternating; read ${settleMs} ms after child_pid appears)`);
  say();
  say(
    table(
      ['launcher', 'processes', 'RSS MiB', 'Private_Dirty MiB', 'Private_Dirty x rootlesskit'],
      cases.map(([name]) => {
        const rk = name.includes('slirp4netns') ? cases[4]![0] : cases[2]![0];
        return [name, mem.get(name)![0]!.processes.join(' + '), fmt(med(name, 'rss') / 1024), fmt(med(name, 'privateDirty') / 1024), fmt(med(name, 'privateDirty') / med(rk, 'privateDirty'), 2)];
      }),
    ),
  );
}
if (outFile) writeFileSync(outFile, `${lines.join('\n')}\n`);
