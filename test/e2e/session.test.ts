// openSession(): one launcher, many commands as uid 0 in its namespaces
// (src/session/), used as a test suite would.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RootlessError, openSession, type Session } from '../../src/index.js';
import { pidfdOpen, pollFd, close } from '../../src/sys/native.js';
import { NOSUB_USER_NAME, U, descendants, e2e, launcherUser, skip, subIdRange, userDir, userEnv, type TestUser } from '../helpers/e2e.js';

const asUser = (user: TestUser = U): { env: NodeJS.ProcessEnv; uid?: number; gid?: number } => ({ env: userEnv(user), ...(user.switchTo ?? {}) });

/** Blocks until the process has exited (its pidfd turns readable); false if it is still there. */
function waitExit(pid: number): boolean {
  let fd: number;
  try {
    fd = pidfdOpen(pid);
  } catch {
    return true; // already gone
  }
  try {
    return pollFd(fd, false, 120_000);
  } finally {
    close(fd);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let shared: Promise<Session> | undefined;
const session = (): Promise<Session> => (shared ??= openSession({}, asUser()));
test.after.always(async () => {
  if (shared) await (await shared).close();
});

e2e('run() gives the code, the output, uid 0, and sub-uid-owned files seen from outside', async (t) => {
  const s = await session();
  const dir = userDir('rootless-session-', t);
  const r = await s.run(['sh', '-c', 'touch f && chown 1000:1000 f && id -u && printf %s "$X" && cat && exit 3'], {
    cwd: dir, env: { X: 'x y\tz' }, input: 'in\n',
  });
  t.is(r.code, 3, r.stderr);
  t.is(r.signal, null);
  t.is(r.stdout, '0\nx y\tzin\n');
  t.is(statSync(join(dir, 'f')).uid, subIdRange('/etc/subuid', U)!.start + 999);
  t.is(statSync(join(dir, 'f')).gid, subIdRange('/etc/subgid', U)!.start + 999);
  // The user cannot remove the sub-uid's directory from outside; removeTree can.
  await s.run(['sh', '-c', 'mkdir d && touch d/g && chown -R 1000:1000 d'], { cwd: dir });
  await s.removeTree(join(dir, 'd'));
  t.false(existsSync(join(dir, 'd')));
});

e2e('20 runs at once; a killed or missing command does not end the session', async (t) => {
  const s = await session();
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.run(['sh', '-c', `echo ${i}`])));
  t.deepEqual(results.map((r) => r.stdout), Array.from({ length: 20 }, (_, i) => `${i}\n`));
  const killed = await s.run(['sh', '-c', 'kill -KILL $$']);
  t.deepEqual([killed.code, killed.signal], [null, 'SIGKILL']);
  const missing = await s.run(['no-such-command-here']);
  t.is(missing.code, 127);
  t.regex(missing.stderr, /no-such-command-here/);
  t.is((await s.run(['id', '-u'])).stdout, '0\n');
});

e2e('close() kills what still runs and leaves no process and no state dir', async (t) => {
  const s = await openSession({}, asUser());
  t.true(existsSync(join(s.stateDir, 'session.sock')));
  t.is(statSync(join(s.stateDir, 'session.sock')).mode & 0o777, 0o600);
  const long = s.run(['sh', '-c', 'echo started > "$1"; exec sleep 1000', 'sh', join(s.stateDir, 'started')]);
  // Wait for the command to run (an event: the file appears).
  await new Promise<void>((res) => {
    const w = watch(s.stateDir, () => {
      if (existsSync(join(s.stateDir, 'started'))) (w.close(), res());
    });
    if (existsSync(join(s.stateDir, 'started'))) (w.close(), res());
  });
  const pids = [s.pid, ...descendants(s.pid).map((d) => d.pid)];
  t.true(pids.length >= 3, JSON.stringify(descendants(s.pid)));
  await s.close();
  const r = await long;
  t.is(r.signal, 'SIGKILL');
  t.deepEqual(pids.filter(alive), []);
  t.false(existsSync(s.stateDir));
  await t.throwsAsync(s.run(['true']), { instanceOf: RootlessError, message: /closed/ });
});

e2e('SIGKILL of the calling process ends the session and leaves nothing', async (t) => {
  const holder = fileURLToPath(new URL('../helpers/session-holder.js', import.meta.url));
  const env = { ...process.env, ...(U.switchTo ? { HOLDER_UID: String(U.switchTo.uid), HOLDER_GID: String(U.switchTo.gid) } : {}) };
  const p = spawn(process.execPath, [holder], { env: U.switchTo ? { ...env, ...userEnvFor() } : env, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((res, rej) => {
    let out = '';
    p.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) res(out.split('\n')[0]!);
    });
    p.once('exit', (code) => rej(new Error(`holder exited with ${code}`)));
  });
  const { pid, stateDir } = JSON.parse(line) as { pid: number; stateDir: string };
  await new Promise<void>((res) => {
    const w = watch(stateDir, () => {
      if (existsSync(join(stateDir, 'started'))) (w.close(), res());
    });
    if (existsSync(join(stateDir, 'started'))) (w.close(), res());
  });
  const pids = [pid, ...descendants(pid).map((d) => d.pid)];
  t.true(pids.length >= 4, JSON.stringify(descendants(pid)));
  p.kill('SIGKILL');
  for (const q of pids) t.true(waitExit(q), `pid ${q} still runs`);
  t.false(existsSync(stateDir));
  t.true(existsSync(dirname(stateDir)));
});

e2e('commands get the soft fd limit of the process that opened the session, not the one the agent\'s node raised', async (t) => {
  const helper = fileURLToPath(new URL('../helpers/session-nofile.js', import.meta.url));
  const env = { ...process.env, ...(U.switchTo ? { ...userEnvFor(), HOLDER_UID: String(U.switchTo.uid), HOLDER_GID: String(U.switchTo.gid) } : {}) };
  const p = spawn(process.execPath, [helper], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  p.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((res) => p.once('close', res));
  t.is(code, 0, err);
  const hard = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!.split(/\s+/)[4];
  t.deepEqual(JSON.parse(out) as unknown, { run: `777 ${hard}`, spawn: `777 ${hard}` });
});

/** The holder runs as root and starts the launcher as the test user, whose environment it must have. */
function userEnvFor(): NodeJS.ProcessEnv {
  const e = userEnv(U);
  return { XDG_RUNTIME_DIR: e.XDG_RUNTIME_DIR, TMPDIR: e.TMPDIR, HOME: e.HOME, USER: e.USER, LOGNAME: e.LOGNAME, PATH: e.PATH };
}

const nosub = launcherUser(NOSUB_USER_NAME);
const noNosub = typeof nosub === 'string' ? nosub : !nosub.switchTo ? 'the suite does not run as root, so it cannot start the launcher as the no-sub-id user' : undefined;
(noNosub === undefined ? e2e : (title: string) => skip(title, noNosub))(
  'openSession rejects with a typed RootlessError when rootless fails (no sub-ids, static source)',
  async (t) => {
    const err = await t.throwsAsync(openSession({ subidSource: 'static' }, asUser(nosub as TestUser)), { instanceOf: RootlessError });
    t.regex(err!.message, /sub-?uid|subuid/i);
    t.not(err!.step, 'open session', 'the step comes from the launcher\'s own error record');
  },
);

e2e('openSession rejects with a RootlessError for a bad option value, TypeError for an unknown option', async (t) => {
  const err = await t.throwsAsync(openSession({ mtu: -5 } as never, asUser()), { instanceOf: RootlessError });
  t.regex(err!.message, /--mtu/);
  await t.throwsAsync(openSession({ bogus: 1 } as never, asUser()), { instanceOf: TypeError });
});
