// Chaos: N sessions (--pidns, --net=slirp4netns, builtin ports) as the test
// user; in each, one process (the launcher, its child, the target or
// slirp4netns) is SIGKILLed at an event of start-up or of the session
// (child_pid written, api.sock up, target ready, mid-transfer). WHICH and
// WHEN come from a seeded PRNG; the seed is printed, so a failure replays
// with --seed. After each session: no process of it (found by a variable
// only its processes carry), no mount under the run's directory, no state
// dir but the one given, no listening port. At the end a new session on
// the same --state-dir must start.
//
//   node dist/test/chaos.js [--sessions N] [--seed S]      (as root or the test user)
//
// Exit status 0 when nothing leaked; the last line is a one-line summary.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, collect, descendants, run, userEnv } from './helpers/rootless.js';
import { launcherUser, type TestUser } from './helpers/user.js';
import { freePorts, refused } from './helpers/sockets.js';

export const VICTIMS = ['parent', 'child', 'target', 'net'] as const;
export const MOMENTS = ['child_pid', 'api.sock', 'ready', 'mid-transfer'] as const;
type Victim = (typeof VICTIMS)[number];
type Moment = (typeof MOMENTS)[number];

export interface ChaosLeak {
  session: number;
  victim: Victim;
  moment: Moment;
  what: string;
}

export interface ChaosResult {
  seed: number;
  sessions: number;
  leaks: ChaosLeak[];
  /** How often each victim/moment pair was drawn (what was killed, if it existed then). */
  drawn: Record<string, number>;
  /** Sessions whose launcher did not end by itself after its child, target or helper died. */
  hangs: number;
  /** The final session on the same --state-dir started and exited 0. */
  reusable: boolean;
  log: string[];
}

const TARGET = fileURLToPath(new URL('./helpers/port-target.js', import.meta.url));

/** mulberry32: small, seedable, good enough to pick among a few events. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Host pids whose environment carries NAME=VALUE. */
function pidsWithEnv(name: string, value: string): number[] {
  const needle = Buffer.from(`${name}=${value}\0`);
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`);
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && env.includes(needle)) out.push(Number(d));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Polls `check` (an event we cannot subscribe to: a file appearing, a process gone) until true or the deadline. */
async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pid in STATEDIR/child_pid when it is a process of the launcher LAUNCHER (not one a killed session left). */
function childPidOf(stateDir: string, launcher: number): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(stateDir, 'child_pid'), 'utf8'));
  } catch {
    return undefined;
  }
  return descendants(launcher).some((d) => d.pid === pid) ? pid : undefined;
}

/** A socket at PATH accepts connections (a stale one refuses). */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.on('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

function kill(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

export async function chaos(opts: { sessions: number; seed: number; user?: TestUser; print?: (s: string) => void }): Promise<ChaosResult> {
  const who = opts.user ?? launcherUser();
  if (typeof who === 'string') throw new Error(who);
  const U = who;
  const print = opts.print ?? ((s: string) => void process.stdout.write(`${s}\n`));
  const random = prng(opts.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const result: ChaosResult = { seed: opts.seed, sessions: opts.sessions, leaks: [], drawn: {}, hangs: 0, reusable: false, log: [] };
  const say = (s: string): void => {
    result.log.push(s);
    print(s);
  };
  say(`chaos: ${opts.sessions} sessions, seed ${opts.seed} (replay: node dist/test/chaos.js --sessions ${opts.sessions} --seed ${opts.seed})`);

  // Everything of this run under one directory: the state dir, XDG_RUNTIME_DIR, TMPDIR.
  const base = mkdtempSync(join(tmpdir(), 'rootless-chaos-'));
  chmodSync(base, 0o755);
  const scratch = join(base, 'scratch');
  mkdirSync(scratch, { mode: 0o700 });
  chmodSync(scratch, 0o700);
  if (U.switchTo) chownSync(scratch, U.uid, U.gid);
  const stateDir = join(scratch, 'state');
  const tag = `${process.pid}-${opts.seed}`;
  const env = { XDG_RUNTIME_DIR: scratch, TMPDIR: scratch, ROOTLESS_CHAOS: tag };
  const flags = ['--state-dir', stateDir, '--pidns', '--net=slirp4netns', '--port-driver=builtin'];

  try {
    for (let i = 1; i <= opts.sessions; i++) {
      const victim = pick(VICTIMS);
      const moment = pick(MOMENTS);
      const key = `${victim}@${moment}`;
      result.drawn[key] = (result.drawn[key] ?? 0) + 1;
      const [echoPort, sourcePort] = await freePorts(2);
      const child = spawnLauncher(U, [...flags, '-p', `127.0.0.1:${echoPort}:80/tcp`, '-p', `127.0.0.1:${sourcePort}:83/tcp`, '--', process.execPath, TARGET, 'tcp-echo:80', 'source:83'], env);
      const done = collect(child, 120_000);
      let stdout = '';
      child.stdout!.on('data', (d: Buffer | string) => (stdout += d.toString()));

      // The moment: an event of the start or of the session.
      const ended = (): boolean => child.exitCode !== null || child.signalCode !== null;
      let reached = false;
      // The state dir is shared by the sessions: a child_pid or api.sock left
      // by a killed one is there before this launcher replaces it.
      if (moment === 'child_pid') reached = await until(() => childPidOf(stateDir, child.pid!) !== undefined || ended(), 60_000);
      else if (moment === 'api.sock') reached = await until(async () => (await listening(join(stateDir, 'api.sock'))) || ended(), 60_000);
      else reached = await until(() => stdout.includes('ready') || ended(), 60_000);
      let transfer: Promise<void> | undefined;
      if (moment === 'mid-transfer' && !ended()) {
        // Kill once the first MiB of 64 has come through.
        const c = connect(sourcePort!, '127.0.0.1');
        let got = 0;
        c.on('error', () => {});
        transfer = new Promise((res) => c.on('close', () => res()));
        reached = await new Promise<boolean>((res) => {
          c.on('data', (d: Buffer) => {
            got += d.length;
            if (got >= 1 << 20) res(true);
          });
          c.on('close', () => res(false));
        });
        c.pause();
        void transfer.then(() => c.destroy());
      }
      // Which of the processes exist now.
      const tree = descendants(child.pid!);
      const childPid = childPidOf(stateDir, child.pid!);
      // The target is the child's: the launcher's guard (CLONE_VM) shares the
      // launcher's command line, which names TARGET too.
      const targetPid = childPid === undefined ? undefined : descendants(childPid).find((d) => d.argv.includes(TARGET))?.pid;
      const netPid = tree.find((d) => d.argv[0]?.endsWith('slirp4netns'))?.pid;
      const pids: Record<Victim, number | undefined> = { parent: child.pid, child: childPid, target: targetPid, net: netPid };
      const killed = !ended() && kill(pids[victim]);
      const note = `${String(i).padStart(3)} kill ${victim.padEnd(6)} at ${moment.padEnd(12)} ${killed ? `pid ${pids[victim]}` : `(not there: ${reached ? 'not started yet or gone' : 'moment not reached'})`}`;

      // Nothing to kill at that moment: end the session the ordinary way.
      if (!killed && !ended()) child.kill('SIGTERM');
      // The launcher must end by itself when its child, target or helper dies.
      let r = await Promise.race([done, until(() => false, 60_000).then(() => undefined)]);
      if (r === undefined) {
        result.hangs++;
        result.leaks.push({ session: i, victim, moment, what: `the launcher did not exit within 60 s of the ${killed ? 'kill' : 'SIGTERM'}` });
        child.kill('SIGKILL');
        r = await done.catch(() => undefined);
      }
      if (transfer) child.stdout!.destroy();

      // What is left (the kernel takes a moment to tear a pid namespace down: wait for that, bounded).
      const leaks: string[] = [];
      const clean = await until(() => pidsWithEnv('ROOTLESS_CHAOS', tag).length === 0, 30_000);
      if (!clean) {
        for (const p of pidsWithEnv('ROOTLESS_CHAOS', tag)) leaks.push(`process ${p}: ${argvOf(p).join(' ')}`);
      }
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(base));
      for (const m of mounts) leaks.push(`mount: ${m}`);
      for (const e of readdirSync(scratch)) if (e !== 'state') leaks.push(`left in the run's XDG_RUNTIME_DIR/TMPDIR: ${e}`);
      for (const p of [echoPort!, sourcePort!]) if (!(await refused(p))) leaks.push(`port ${p} still accepts connections`);
      for (const what of leaks) result.leaks.push({ session: i, victim, moment, what });
      say(`${note} -> exit ${r?.code ?? '?'}${r?.signal ? ` (${r.signal})` : ''}${leaks.length ? `; LEAKS: ${leaks.join('; ')}` : ''}`);
      // Clean what leaked so one leak does not count again in the next session.
      for (const p of pidsWithEnv('ROOTLESS_CHAOS', tag)) kill(p);
    }

    // A new session on the same --state-dir starts (stale files of a killed session replaced).
    const last = await run(U, ['run', ...flags, '--', 'true'], { env });
    result.reusable = last.code === 0;
    if (!result.reusable) result.leaks.push({ session: opts.sessions + 1, victim: 'parent', moment: 'child_pid', what: `a new session on ${stateDir} failed: exit ${last.code}: ${last.stderr.trim()}` });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  const pairs = Object.entries(result.drawn).sort().map(([k, n]) => `${k}=${n}`).join(' ');
  say(`drawn: ${pairs}`);
  say(`chaos summary: ${result.sessions} sessions, seed ${result.seed}: ${result.leaks.length} leaks, ${result.hangs} hangs, state dir reusable: ${result.reusable ? 'yes' : 'NO'}`);
  return result;
}

function spawnLauncher(U: TestUser, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(BIN, ['run', ...args], {
    env: userEnv(U, env),
    cwd: '/tmp',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(U.switchTo ? { uid: U.switchTo.uid, gid: U.switchTo.gid } : {}),
  });
}


// As a script.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const sessions = Number(arg('--sessions') ?? 100);
  const seed = Number(arg('--seed') ?? Math.floor(Math.random() * 2 ** 31));
  const r = await chaos({ sessions, seed });
  for (const l of r.leaks) process.stdout.write(`leak: session ${l.session} (${l.victim} at ${l.moment}): ${l.what}\n`);
  process.exitCode = r.leaks.length === 0 ? 0 : 1;
}
