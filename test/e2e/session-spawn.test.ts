// s.spawn(): commands in an open session with the caller's stdio handed
// over as fds (SCM_RIGHTS over session.sock), as a test suite would use it.
import test from 'ava';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RootlessError, openSession, type Session, type SessionProcess } from '../../src/index.js';
import { U, e2e, userDir, userEnv } from '../helpers/e2e.js';

const asUser = { env: userEnv(U), ...(U.switchTo ?? {}) };

let shared: Promise<Session> | undefined;
const session = (): Promise<Session> => (shared ??= openSession({}, asUser));
test.after.always(async () => {
  if (shared) await (await shared).close();
});

function collect(stream: NodeJS.ReadableStream | null): Promise<Buffer> {
  const parts: Buffer[] = [];
  stream!.on('data', (d: Buffer) => parts.push(d));
  return new Promise((res, rej) => {
    stream!.on('end', () => res(Buffer.concat(parts)));
    stream!.on('error', rej);
  });
}

function closed(p: SessionProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((res) => p.once('close', (code: number | null, signal: NodeJS.Signals | null) => res({ code, signal })));
}

function spawned(p: SessionProcess): Promise<number> {
  return new Promise((res, rej) => {
    p.once('spawn', () => res(p.pid!));
    p.once('error', rej);
  });
}

e2e('pipes: stdin in, stdout and stderr streamed byte for byte, the exit code, events in order', async (t) => {
  const s = await session();
  const events: string[] = [];
  const p = s.spawn(['sh', '-c', 'id -u; cat; printf "%s" "$X" >&2; exit 7'], { env: { X: 'x y\tz\u00e9' } });
  p.on('spawn', () => events.push('spawn'));
  p.on('exit', () => events.push('exit'));
  const input = Buffer.alloc(1 << 20);
  for (let i = 0; i < input.length; i++) input[i] = (i * 7919) & 0xff; // every byte value, NULs included
  p.stdin!.end(input);
  const [out, err, end] = await Promise.all([collect(p.stdout), collect(p.stderr), closed(p)]);
  events.push('close');
  t.deepEqual(end, { code: 7, signal: null });
  t.deepEqual(events, ['spawn', 'exit', 'close']);
  t.is(typeof p.pid, 'number');
  t.is(out.subarray(0, 2).toString(), '0\n');
  t.true(out.subarray(2).equals(input), 'stdin came back whole through cat');
  t.is(err.toString('utf8'), 'x y\tz\u00e9');
  t.is(p.exitCode, 7);
});

e2e('the caller\'s own fds: a file opened outside is the command\'s stdout, \'ignore\' is /dev/null', async (t) => {
  const s = await session();
  const dir = userDir('rootless-spawn-', t);
  const file = join(dir, 'out');
  const fd = openSync(file, 'w');
  try {
    const p = s.spawn(['sh', '-c', 'id -u; cat; readlink /proc/self/fd/0'], { stdio: ['ignore', fd, 'inherit'] });
    t.deepEqual(await closed(p), { code: 0, signal: null });
  } finally {
    closeSync(fd);
  }
  t.is(readFileSync(file, 'utf8'), '0\n/dev/null\n');
});

e2e('no fd of ours reaches the command: it has 0, 1 and 2 only; kill() ends it with the signal', async (t) => {
  const s = await session();
  // Something of ours that would leak if anything did: an open file in this process.
  const mine = openSync(process.execPath, 'r');
  t.teardown(() => closeSync(mine));
  // Read its fds once it runs its own code: while ld.so loads it, the
  // loader's own fd (libc.so.6) is open for a moment.
  const p = s.spawn(['sh', '-c', 'echo ready; read x']);
  const pid = await spawned(p);
  await new Promise<void>((res) => p.stdout!.once('data', () => res()));
  // The default session has no pid namespace: the pid is valid here.
  const fds = readdirSync(`/proc/${pid}/fd`).sort();
  t.deepEqual(fds, ['0', '1', '2'], fds.map((f) => `${f} -> ${readlinkSync(`/proc/${pid}/fd/${f}`)}`).join(', '));
  for (const f of fds) t.regex(readlinkSync(`/proc/${pid}/fd/${f}`), /^pipe:/);
  t.is(statSync(`/proc/${pid}`).uid, U.uid, 'uid 0 inside is the user outside');
  t.true(p.kill('SIGTERM'));
  t.deepEqual(await closed(p), { code: null, signal: 'SIGTERM' });
  t.false(p.kill('SIGTERM'), 'nothing to signal once it has exited');
});

e2e('20 spawns at once; one that kills itself or is not found does not end the session', async (t) => {
  const s = await session();
  const ps = Array.from({ length: 20 }, (_, i) => s.spawn(['sh', '-c', 'printf %s "$0"; exit "$0"', String(i)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const results = await Promise.all(ps.map(async (p) => {
    const [out, end] = await Promise.all([collect(p.stdout), closed(p)]);
    return [out.toString(), end.code];
  }));
  t.deepEqual(results, Array.from({ length: 20 }, (_, i) => [String(i), i]));
  const crash = s.spawn(['sh', '-c', 'kill -SEGV $$'], { stdio: 'ignore' });
  t.deepEqual(await closed(crash), { code: null, signal: 'SIGSEGV' });
  const missing = s.spawn(['no-such-command-here'], { stdio: 'ignore' });
  const err = await new Promise<NodeJS.ErrnoException>((res) => missing.once('error', res));
  t.is(err.code, 'ENOENT');
  t.regex(err.message, /no-such-command-here/);
  t.deepEqual(await closed(missing), { code: 127, signal: null });
  const after = s.spawn(['id', '-u'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.is((await collect(after.stdout)).toString(), '0\n');
  t.is((await s.run(['true'])).code, 0);
});

e2e('close() kills what was spawned and still runs, waits for it, and leaves nothing', async (t) => {
  const s = await openSession({}, asUser);
  const p = s.spawn(['sleep', '1000'], { stdio: 'ignore' });
  const pid = await spawned(p);
  let exitSeen = false;
  p.on('exit', () => (exitSeen = true));
  await s.close();
  t.true(exitSeen, "'exit' came before close() resolved");
  t.is(p.signalCode, 'SIGKILL');
  t.false(existsSync(`/proc/${pid}`));
  t.false(existsSync(s.stateDir));
  t.throws(() => s.spawn(['true']), { instanceOf: RootlessError, message: /closed/ });
});
