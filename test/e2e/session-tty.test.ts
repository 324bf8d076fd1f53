// s.spawn(argv, { tty: true }): a command in an open session on a terminal
// the caller opened (addon/pty.cc): isatty, its own session with the
// terminal as controlling terminal and its group in the foreground, the
// size and resize, typed input, Ctrl-C, volume both ways through the relay,
// hangup.
// Serial: the last test counts this process's pty masters.
import test from 'ava';
import { readdirSync, readlinkSync } from 'node:fs';
import { openSession, type Session, type SessionProcess } from '../../src/index.js';
import { U, e2e, userEnv } from '../helpers/e2e.js';

const asUser = { env: userEnv(U), ...(U.switchTo ?? {}) };

let shared: Promise<Session> | undefined;
const session = (): Promise<Session> => (shared ??= openSession({}, asUser));
test.after.always(async () => {
  if (shared) await (await shared).close();
});

/** Everything the terminal shows until the handle closes, and how the command ended. */
function finish(p: SessionProcess, onText?: (all: string) => void): Promise<{ out: string; code: number | null; signal: NodeJS.Signals | null }> {
  let out = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    onText?.(out);
  });
  return new Promise((res, rej) => {
    p.once('error', rej);
    p.once('close', (code: number | null, signal: NodeJS.Signals | null) => res({ out, code, signal }));
  });
}

/** This process's open pty masters. */
function masters(): number {
  return readdirSync('/proc/self/fd').filter((f) => {
    try {
      return readlinkSync(`/proc/self/fd/${f}`) === '/dev/ptmx';
    } catch {
      return false;
    }
  }).length;
}

e2e.serial('a terminal: isatty on 0, 1, 2, the controlling terminal of its own session in the foreground, size, resize, typed input, the exit code', async (t) => {
  const s = await session();
  // stat fields: 5 pgrp, 6 session, 7 tty_nr, 8 foreground group of the terminal.
  const script = 'for fd in 0 1 2; do [ -t $fd ] && printf "tty$fd "; done; echo; '
    + 'cut -d" " -f1,5,6,7,8 /proc/$$/stat; stty size; echo ready; read x; stty size; echo "got $x"; exit 3';
  const p = s.spawn(['sh', '-c', script], { tty: { cols: 100, rows: 30 } });
  t.is(p.stderr, null, 'the terminal carries stderr too');
  let typed = false;
  let fds: string[] = [];
  const r = await finish(p, (out) => {
    if (!typed && out.includes('ready\r\n')) {
      typed = true;
      // The default session has no pid namespace: its pid is valid here.
      fds = readdirSync(`/proc/${out.split('\r\n')[1]!.split(' ')[0]!}/fd`).sort();
      t.true(p.resize(120, 40));
      p.stdin!.write('hello\r'); // Enter, as a terminal sends it
    }
  });
  t.deepEqual([r.code, r.signal], [3, null], r.out);
  const lines = r.out.split('\r\n');
  t.is(lines[0], 'tty0 tty1 tty2 ');
  const [pid, pgrp, sid, ttyNr, tpgid] = lines[1]!.split(' ');
  t.is(pgrp, pid, 'a process group leader');
  t.is(sid, pid, 'a session leader');
  t.not(ttyNr, '0', 'with a controlling terminal');
  t.is(tpgid, pgrp, 'its group is the terminal\'s foreground group');
  t.deepEqual(fds, ['0', '1', '2'], 'fds 0, 1, 2 only');
  t.is(lines[2], '30 100');
  // The terminal echoes what is typed.
  t.deepEqual(lines.slice(3), ['ready', 'hello', '40 120', 'got hello', '']);
  t.false(p.resize(80, 24), 'closed: nothing to resize');
});

e2e.serial('Ctrl-C typed on the terminal interrupts the foreground command', async (t) => {
  const s = await session();
  const p = s.spawn(['sh', '-c', 'echo ready; exec cat'], { tty: true });
  let typed = false;
  const r = await finish(p, (out) => {
    if (!typed && out.includes('ready')) {
      typed = true;
      p.stdin!.write('\x03');
    }
  });
  t.deepEqual([r.code, r.signal], [null, 'SIGINT'], r.out);
});

e2e.serial('volume both ways: 300 KB typed in raw mode reach the command, 50000 lines of output arrive whole and in order', async (t) => {
  const s = await session();
  const input = Buffer.alloc(300_000);
  for (let i = 0; i < input.length; i++) input[i] = (i * 7919) & 0xff; // every byte value
  const p = s.spawn(['sh', '-c', 'stty raw -echo && echo ready && head -c 300000 | cksum && stty sane && echo done && seq 1 50000'], { tty: true });
  const expected = (await s.run(['sh', '-c', 'cksum'], { input })).stdout.trim();
  let typed = false;
  const r = await finish(p, (out) => {
    if (!typed && out.includes('ready')) {
      typed = true;
      p.stdin!.write(input);
    }
  });
  t.deepEqual([r.code, r.signal], [0, null], r.out.slice(0, 500));
  // Raw mode: the output's \n is not turned into \r\n until stty sane.
  const [head, ...rest] = r.out.split('\r\n');
  t.deepEqual(head!.split('\n'), ['ready', expected, 'done'], 'the input arrived byte for byte');
  t.deepEqual(rest, [...Array.from({ length: 50000 }, (_, i) => String(i + 1)), '']);
});

e2e.serial('destroying the handle\'s stream hangs the terminal up (SIGHUP); close() ends a command on a terminal', async (t) => {
  const s = await session();
  const p = s.spawn(['sh', '-c', 'trap "exit 9" HUP; echo ready; while :; do read x; done'], { tty: true });
  const end = new Promise((res) => p.once('close', (code: number | null, signal: NodeJS.Signals | null) => res([code, signal])));
  p.stdout!.once('data', () => p.stdout!.destroy());
  t.deepEqual(await end, [9, null], 'the trap of SIGHUP ran');
  const own = await openSession({}, asUser);
  const q = own.spawn(['sh', '-c', 'echo ready; exec sleep 1000'], { tty: true });
  const qEnd = new Promise((res) => q.once('close', (code: number | null, signal: NodeJS.Signals | null) => res([code, signal])));
  await new Promise((res) => q.stdout!.once('data', res));
  await own.close();
  t.deepEqual(await qEnd, [null, 'SIGKILL']);
});

e2e.serial('bad use: tty with stdio, resize without tty or to a bad size are TypeErrors; no master stays open after close', async (t) => {
  const s = await session();
  const before = masters();
  t.throws(() => s.spawn(['true'], { tty: true, stdio: 'inherit' }), { instanceOf: TypeError, message: /stdio and tty/ });
  t.throws(() => s.spawn(['true'], { tty: { cols: 0 } }), { instanceOf: TypeError, message: /tty\.cols/ });
  t.is(masters(), before, 'a refused spawn leaves no terminal open');
  const piped = s.spawn(['true'], { stdio: 'ignore' });
  const pipedClosed = new Promise((res) => piped.once('close', res));
  t.throws(() => piped.resize(80, 24), { instanceOf: TypeError, message: /tty/ });
  const p = s.spawn(['sh', '-c', 'echo ready; read x'], { tty: true });
  t.throws(() => p.resize(0, 24), { instanceOf: TypeError });
  const missing = s.spawn(['no-such-command-here'], { tty: true });
  const missingClosed = new Promise<number | null>((res) => missing.once('close', res));
  const err = await new Promise<NodeJS.ErrnoException>((res) => missing.once('error', res));
  t.is(err.code, 'ENOENT');
  t.is(await missingClosed, 127);
  const r = await finish(p, (out) => {
    if (out.includes('ready')) p.stdin!.write('\r');
  });
  t.is(r.code, 0, r.out);
  await pipedClosed;
  t.is(masters(), before, 'every master closed with its handle');
});
