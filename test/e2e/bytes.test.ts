// End-to-end: what a user passes reaches the target byte for byte, as it
// does under RootlessKit (a Go binary, which never decodes them): argv,
// environment (names and values, entries without '=', no PWD added), cwd and
// the command's path, including every byte value 0x01-0xff (issue 9, item 2).
// And bin/rootless started by a relative path.
//
// node's child_process passes only strings (UTF-8), so the launcher is
// started with the addon's spawn, which takes bytes (as root: through
// setpriv, which passes argv and environment on untouched). The target
// writes what the kernel gave it (/proc/$$/cmdline, /proc/$$/environ, its
// cwd) to files, compared here byte for byte.
import type { ExecutionContext } from 'ava';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, REPO, U, e2e, eventually, run, userDir, userEnv } from '../helpers/e2e.js';
import { spawn as nativeSpawn, type ExitStatus } from '../../src/sys/native.js';
import { splitNul } from '../../src/sys/bytes.js';

const b = (s: string): Buffer => Buffer.from(s);
/** Bytes 0x01-0xff, without those listed. */
function allBytes(...except: number[]): Buffer {
  return Buffer.from(Array.from({ length: 255 }, (_, i) => i + 1).filter((x) => !except.includes(x)));
}
const SLASH = 0x2f;
const EQ = 0x3d;

/** A new directory the test user owns. */
function ownDir(path: string): string {
  mkdirSync(path);
  if (U.switchTo) chownSync(path, U.uid, U.gid);
  return path;
}

/** The launcher's environment as bytes: the suite's defaults for the user, then `extra`. */
function baseEnv(): Buffer[] {
  return Object.entries(userEnv(U)).map(([k, v]) => b(`${k}=${v}`));
}

interface Launched {
  pid: number;
  exited: Promise<ExitStatus>;
  stderr: () => string;
}

/** bin/rootless with these argv bytes, environment entries and cwd, as the test user. */
function launch(dir: string, args: (string | Buffer)[], env: Buffer[], cwd: string | Buffer, file: string | Buffer = BIN): Launched {
  const errPath = join(dir, `launcher-stderr-${Math.random().toString(36).slice(2)}`);
  const err = openSync(errPath, 'w');
  const nul = openSync('/dev/null', 'r');
  const su = U.switchTo ? ['/usr/bin/setpriv', `--reuid=${U.uid}`, `--regid=${U.gid}`, '--clear-groups'] : [];
  let done!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((res) => (done = res));
  try {
    const argv = [...su, file, ...args];
    const { pid } = nativeSpawn({ file: argv[0]!, argv, envp: env, cwd, fds: [nul, err, err] }, (_e, s) => done(s));
    return { pid, exited, stderr: () => readFileSync(errPath, 'utf8') };
  } finally {
    closeSync(err);
    closeSync(nul);
  }
}

/** `sh -c DUMP OUT ARGS...`: the target writes its argv, environment and cwd into OUT. */
const DUMP = 'cat /proc/$$/cmdline > "$0/cmdline"; cat /proc/$$/environ > "$0/environ"; readlink /proc/$$/cwd > "$0/cwd"; : > "$0/done"';

interface Seen {
  /** The target's argv after `sh -c DUMP OUT`. */
  args: Buffer[];
  env: Buffer[];
  cwd: Buffer;
}

function seen(out: string): Seen {
  const argv = splitNul(readFileSync(join(out, 'cmdline')));
  const cwd = readFileSync(join(out, 'cwd'));
  return { args: argv.slice(4), env: splitNul(readFileSync(join(out, 'environ'))), cwd: cwd.subarray(0, cwd.length - 1) };
}

/** Runs `rootless run -- sh -c DUMP OUT ...args` and returns what the target saw. */
async function dump(t: ExecutionContext, opts: { args?: (string | Buffer)[]; env?: Buffer[]; cwd?: string | Buffer; flags?: string[] } = {}): Promise<Seen> {
  const dir = userDir('bytes-', t);
  const out = ownDir(join(dir, 'out'));
  const l = launch(dir, ['run', ...(opts.flags ?? []), '--', 'sh', '-c', DUMP, out, ...(opts.args ?? [])], opts.env ?? baseEnv(), opts.cwd ?? '/');
  const st = await l.exited;
  t.is(st.code, 0, l.stderr());
  if (st.code !== 0) throw new Error(`launcher failed: ${l.stderr()}`);
  return seen(out);
}

const hex = (l: Buffer[]): string[] => l.map((x) => x.toString('hex'));
const names = (l: Buffer[]): string[] => l.map((e) => e.subarray(0, Math.max(0, e.indexOf(EQ))).toString('latin1'));
const ROOTLESSKIT_VARS = ['ROOTLESSKIT_STATE_DIR', 'ROOTLESSKIT_PARENT_EUID', 'ROOTLESSKIT_PARENT_EGID'];

/** The target's environment is `expected` then RootlessKit's three variables, exactly. */
function sameEnv(t: ExecutionContext, got: Buffer[], expected: Buffer[]): void {
  t.deepEqual(hex(got.slice(0, expected.length)), hex(expected));
  t.deepEqual(names(got.slice(expected.length)), ROOTLESSKIT_VARS);
}

e2e('bin/rootless started by a relative path (bin/rootless from the package root) runs', async (t) => {
  const r = await run(U, ['run', '--', 'echo', 'relative ok'], { bin: 'bin/rootless', cwd: REPO });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'relative ok\n');
});

// The child becomes the target (host network, no --pidns), or spawns it and stays (--pidns).
for (const flags of [[], ['--pidns']]) {
  const how = flags.length === 0 ? '' : ` (${flags.join(' ')}: the child spawns the target)`;
  e2e(`argv: every byte 0x01-0xff, in one element and each alone, and empty elements reach the target${how}`, async (t) => {
    const args = [allBytes(), ...[...allBytes()].map((x) => Buffer.from([x])), Buffer.alloc(0), b('\xff'), Buffer.from([0xff, 0xfe, 0x80, 0x61])];
    const s = await dump(t, { args, flags });
    t.deepEqual(hex(s.args), hex(args));
  });

  e2e(`environment: a value with every byte 0x01-0xff, a name with every byte but '=', reach the target unchanged${how}`, async (t) => {
    const env = [...baseEnv(), Buffer.concat([b('ROOTLESS_BYTES='), allBytes()]), Buffer.from([0x56, EQ, 0xff, 0xfe, 0x80]), Buffer.concat([allBytes(EQ), b('=v')])];
    const s = await dump(t, { env, flags, cwd: '/tmp' });
    sameEnv(t, s.env, env);
  });
}

e2e('environment: a name with every byte but \'=\' (not a shell identifier), and A-B, reach the target', async (t) => {
  const env = [...baseEnv(), Buffer.concat([allBytes(EQ), b('=v')]), b('A-B=1'), b('1X=2'), Buffer.from([0xff, 0x4e, EQ, 0x76])];
  const s = await dump(t, { env });
  sameEnv(t, s.env, env);
});

e2e('environment: an entry without \'=\' passes, of duplicate names the first (as RootlessKit), no PWD is added', async (t) => {
  const base = baseEnv();
  t.false(names(base).includes('PWD'));
  const env = [...base, b('NOEQ'), b('DUP=first'), b('MID=1'), b('DUP=second')];
  const s = await dump(t, { env, cwd: '/tmp' });
  sameEnv(t, s.env, [...base, b('NOEQ'), b('DUP=first'), b('MID=1')]);
  // And a PWD the caller had, even a stale one, stays as it was.
  const stale = [...base, b('PWD=/nonexistent/stale')];
  sameEnv(t, (await dump(t, { env: stale, cwd: '/tmp' })).env, stale);
});

/** A directory named with every byte but '/' (254 bytes) and `except`, the test user's. */
function oddDir(t: ExecutionContext, ...except: number[]): Buffer {
  const parent = userDir('bytes-cwd-', t);
  const path = Buffer.concat([b(`${parent}/`), allBytes(SLASH, ...except)]);
  mkdirSync(path);
  chmodSync(path, 0o755);
  if (U.switchTo) chownSync(path, U.uid, U.gid);
  return path;
}

e2e('cwd: a directory named with every byte but \'/\' is the target\'s cwd', async (t) => {
  const dir = oddDir(t);
  const s = await dump(t, { cwd: dir });
  t.is(s.cwd.toString('hex'), dir.toString('hex'));
});

e2e('command path: a program in a directory named with every byte but \'/\' (and \':\' for PATH), by absolute, relative and PATH lookup', async (t) => {
  const dir = oddDir(t, 0x3a);
  const out = ownDir(join(userDir('bytes-prog-', t), 'out'));
  const name = Buffer.from([0x70, 0xff, 0xfe, 0x80, 0x20, 0x3a]); // "p\xff\xfe\x80 :"
  const prog = Buffer.concat([dir, b('/'), name]);
  writeFileSync(prog, `#!/bin/sh\ncat /proc/$$/cmdline > ${out}/cmdline\n`);
  chmodSync(prog, 0o755);
  if (U.switchTo) chownSync(prog, U.uid, U.gid);
  const runs: [string, (string | Buffer)[], Buffer[], Buffer | string][] = [
    ['absolute', [prog, 'x'], baseEnv(), '/'],
    ['relative to the cwd', [Buffer.concat([b('./'), name]), 'x'], baseEnv(), dir],
    ['through PATH', [name, 'x'], [...baseEnv().filter((e) => !e.toString().startsWith('PATH=')), Buffer.concat([b('PATH=/nonexistent:'), dir, b(':/usr/bin:/bin')])], '/'],
  ];
  for (const [how, args, env, cwd] of runs) {
    const l = launch(out, ['run', '--', ...args], env, cwd);
    const st = await l.exited;
    t.is(st.code, 0, `${how}: ${l.stderr()}`);
    const argv = splitNul(readFileSync(join(out, 'cmdline')));
    // A script: the kernel runs /bin/sh with the path it executed.
    t.is(argv[0]?.toString(), '/bin/sh', how);
    t.true(argv[1]!.subarray(argv[1]!.length - name.length).equals(name), `${how}: ${argv[1]?.toString('hex')}`);
    t.deepEqual(argv.slice(2).map(String), ['x'], how);
  }
});

e2e('rootless exec: argv and cwd bytes of the caller, and the session\'s environment bytes, reach the command', async (t) => {
  const dir = userDir('bytes-exec-', t);
  const state = join(dir, 'state');
  const out = ownDir(join(dir, 'out'));
  // 16 KiB: bin/rootless's here-document is then written by a child of the shell, which the launcher inherits.
  const env = [...baseEnv(), Buffer.concat([b('ROOTLESS_BYTES='), allBytes()]), b('A-B=1'), b('NOEQ'), b(`BIG=${'x'.repeat(16384)}`)];
  const session = launch(dir, ['run', '--state-dir', state, '--', 'sh', '-c', `${DUMP}; exec sleep 600`, out], env, '/');
  t.teardown(() => {
    try {
      process.kill(session.pid, 'SIGKILL');
    } catch {
      // ended
    }
  });
  // The record is written once the parent knows the target runs.
  t.true(await eventually(async () => existsSync(join(state, 'session.json')) && existsSync(join(out, 'done')), 60_000), session.stderr());
  const target = seen(out);
  // The launcher reaped the shell's here-document writer: no zombie among its children.
  const children = readFileSync(`/proc/${session.pid}/task/${session.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  const zombies = children.filter((c) => {
    try {
      return /^State:\s+Z/m.test(readFileSync(`/proc/${c}/status`, 'utf8'));
    } catch {
      return false;
    }
  });
  t.deepEqual(zombies, [], 'no zombie child of the launcher');
  const cwd = oddDir(t);
  const execOut = ownDir(join(dir, 'exec-out'));
  const args = [allBytes(), Buffer.from([0xff])];
  const ex = launch(dir, ['exec', '--state-dir', state, '--', 'sh', '-c', DUMP, execOut, ...args], baseEnv(), cwd);
  const st = await ex.exited;
  t.is(st.code, 0, ex.stderr());
  const s = seen(execOut);
  t.deepEqual(hex(s.args), hex(args));
  t.is(s.cwd.toString('hex'), cwd.toString('hex'));
  t.deepEqual(hex(s.env), hex(target.env), 'the session\'s environment');
  sameEnv(t, target.env, env);
  process.kill(session.pid, 'SIGTERM');
  await session.exited;
});
