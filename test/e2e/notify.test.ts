// End-to-end: NOTIFY_SOCKET through the launcher's relay, with a listener
// on the host side playing systemd (test/helpers/notify-listener.ts), for a
// path and an abstract socket, the host's network and slirp4netns, with and
// without --pidns; the target notifies with systemd-notify and with a plain
// datagram.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { U, collect, e2e as anyE2e, start, userDir } from '../helpers/e2e.js';
import { listenNotify, type NotifyDatagram } from '../helpers/notify-listener.js';

// One launcher at a time: a loaded machine then still runs each in seconds.
const e2e = anyE2e.serial;

let serial = 0;
function address(kind: 'path' | 'abstract'): string {
  const name = `rootless-notify-test-${process.pid}-${++serial}`;
  return kind === 'abstract' ? `@${name}` : join(userDir('rootless-notify-'), 'notify');
}

function lines(d: NotifyDatagram): string[] {
  return d.data.split('\n');
}

// A plain sd_notify: one datagram to $NOTIFY_SOCKET ("@" = abstract).
const PLAIN_SEND = `import os, socket, sys
a = os.environ['NOTIFY_SOCKET']
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(sys.argv[1].encode().replace(b'\\\\n', b'\\n'), '\\0' + a[1:] if a.startswith('@') else a)`;

/** text is shell-quoted with double quotes: $(...) in it expands. */
function sendPlain(text: string): string {
  return `python3 -c "$PLAIN_SEND" "${text}"`;
}

for (const net of ['host', 'slirp4netns'] as const) {
  for (const pidns of [false, true]) {
    for (const kind of ['path', 'abstract'] as const) {
      e2e(`NOTIFY_SOCKET (${kind}) reaches the manager from --net=${net}${pidns ? ' --pidns' : ''}, as the launcher with MAINPID`, async (t) => {
        const listener = await listenNotify(U, address(kind));
        t.teardown(() => listener.close());
        const state = join(userDir('rootless-notify-state-'), 'state');
        const script = [
          'echo "env=$NOTIFY_SOCKET"',
          'stat -c "mode=%a" "$NOTIFY_SOCKET"',
          // The shell's fds, seen from a plain command (a pipe, $(...) or a
          // redirection would give the shell fds of its own meanwhile).
          `python3 -c 'import os; [print("fd", f) for f in sorted(os.listdir("/proc/%d/fd" % os.getppid()), key=int)]'`,
          'systemd-notify --ready --status=from-systemd-notify; echo "systemd-notify=$?"',
          sendPlain('STATUS=plain\\nMAINPID=1\\nX=1'),
        ].join('\n');
        const args = ['run', `--state-dir=${state}`, ...(net === 'host' ? [] : [`--net=${net}`]), ...(pidns ? ['--pidns'] : []), '--', 'sh', '-c', script];
        const launcher = start(U, args, { env: { NOTIFY_SOCKET: listener.address, PLAIN_SEND } });
        const r = await collect(launcher, 60_000);
        t.is(r.code, 0, r.stderr);
        const outLines = r.stdout.trim().split('\n');
        const out = Object.fromEntries(outLines.filter((l) => l.includes('=')).map((l) => l.split('=', 2) as [string, string]));
        t.is(out.env, join(state, 'notify.sock'), 'the target gets the relay socket');
        t.is(out.mode, '600');
        t.deepEqual(outLines.filter((l) => l.startsWith('fd ')), ['fd 0', 'fd 1', 'fd 2'], 'no descriptor of ours in the target');
        t.is(out['systemd-notify'], '0', "systemd-notify's barrier completes through the relay");

        const got = await listener.waitFor(3);
        const main = `MAINPID=${launcher.pid}`;
        for (const d of got) {
          t.is(d.pid, launcher.pid!, 'the sender systemd sees is the launcher');
          t.is(lines(d).filter((l) => l.startsWith('MAINPID=')).join(), main, 'exactly one MAINPID, the launcher');
        }
        t.deepEqual(lines(got[0]!).sort(), ['READY=1', 'STATUS=from-systemd-notify', main].sort());
        t.deepEqual(lines(got[1]!), ['BARRIER=1', main]);
        t.is(got[1]!.fds, 1, "the barrier's pipe is passed on");
        t.deepEqual(lines(got[2]!), ['STATUS=plain', 'X=1', main], "the target's own MAINPID is dropped");
        t.is(listener.received.length, 3);
        t.false(existsSync(join(state, 'notify.sock')), 'the socket file is removed');
      });
    }
  }
}

e2e('NOTIFY_SOCKET relay: datagrams of any size arrive whole; MAINPID goes alone when it would push one over 4096 bytes', async (t) => {
  const listener = await listenNotify(U, address('abstract'));
  t.teardown(() => listener.close());
  const near = `STATUS=${'n'.repeat(4080)}`;
  const big = `STATUS=${'b'.repeat(100_000)}`;
  const script = [sendPlain('READY=1'), sendPlain(near), sendPlain("STATUS=$(head -c 100000 /dev/zero | tr '\\0' b)")].join('\n');
  const launcher = start(U, ['run', '--net=slirp4netns', '--', 'sh', '-c', script], { env: { NOTIFY_SOCKET: listener.address, PLAIN_SEND } });
  const r = await collect(launcher, 60_000);
  t.is(r.code, 0, r.stderr);
  const main = `MAINPID=${launcher.pid}`;
  const got = await listener.waitFor(5);
  t.is(got[0]!.data, `READY=1\n${main}`);
  t.is(got[1]!.data, main);
  t.is(got[2]!.data, near);
  t.is(got[3]!.data, main);
  t.is(got[4]!.size, big.length);
  t.false(got[4]!.truncated);
  t.is(got[4]!.data, big);
  t.regex(r.stderr, /larger than systemd accepts \(4096 bytes\)/);
});

e2e('NOTIFY_SOCKET relay passes descriptors on (FDSTORE=1)', async (t) => {
  const listener = await listenNotify(U, address('path'));
  t.teardown(() => listener.close());
  const send = `import os, socket, array
a = os.environ['NOTIFY_SOCKET']
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe()
s.sendmsg([b'FDSTORE=1\\nFDNAME=pipe'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [r, w]))], 0, a)`;
  const launcher = start(U, ['run', '--net=slirp4netns', '--pidns', '--', 'python3', '-c', send], { env: { NOTIFY_SOCKET: listener.address } });
  const r = await collect(launcher, 60_000);
  t.is(r.code, 0, r.stderr);
  const [d] = await listener.waitFor(1);
  t.is(d!.data, `FDSTORE=1\nFDNAME=pipe\nMAINPID=${launcher.pid}`);
  t.is(d!.fds, 2);
});

e2e('without NOTIFY_SOCKET there is no relay and the environment has none', async (t) => {
  const state = join(userDir('rootless-notify-state-'), 'state');
  const r = await collect(start(U, ['run', `--state-dir=${state}`, '--', 'sh', '-c', 'echo "[${NOTIFY_SOCKET-unset}]"; ls "$ROOTLESSKIT_STATE_DIR"']), 60_000);
  t.is(r.code, 0, r.stderr);
  const [env, ...files] = r.stdout.trim().split('\n');
  t.is(env, '[unset]');
  t.false(files.includes('notify.sock'));
  t.false(existsSync(state), 'the session removed the state dir it made');
});

e2e('a NOTIFY_SOCKET that is neither a path nor abstract reaches the target unchanged, with a warning', async (t) => {
  const r = await collect(start(U, ['run', '--', 'sh', '-c', 'printf "%s" "$NOTIFY_SOCKET"'], { env: { NOTIFY_SOCKET: 'vsock:2:1234' } }), 60_000);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'vsock:2:1234');
  t.regex(r.stderr, /NOTIFY_SOCKET is neither a path nor an abstract socket/);
});

e2e('a manager socket nobody listens on: the target is not disturbed, the launcher warns once', async (t) => {
  const script = [sendPlain('READY=1'), sendPlain('STATUS=again'), 'echo sent'].join('\n');
  const r = await collect(start(U, ['run', '--net=slirp4netns', '--', 'sh', '-c', script], { env: { NOTIFY_SOCKET: `@rootless-notify-nobody-${process.pid}`, PLAIN_SEND } }), 60_000);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'sent\n');
  t.is(r.stderr.match(/cannot relay a notify message/g)?.length, 1, r.stderr);
  t.regex(r.stderr, /ECONNREFUSED/);
});

e2e('watchdog: a WATCHDOG_PID naming the launcher is not passed on, and WATCHDOG=1 arrives as the launcher', async (t) => {
  const listener = await listenNotify(U, address('abstract'));
  t.teardown(() => listener.close());
  const script = 'echo "pid=${WATCHDOG_PID-unset} usec=$WATCHDOG_USEC"; systemd-notify WATCHDOG=1';
  const launcher = start(U, ['run', '--net=slirp4netns', '--pidns', '--', 'sh', '-c', script], {
    env: { NOTIFY_SOCKET: listener.address },
    // As systemd starts a unit: WATCHDOG_PID is the main process, the launcher.
    wrapper: ['sh', '-c', 'WATCHDOG_PID=$$ WATCHDOG_USEC=30000000 exec "$0" "$@"'],
  });
  const r = await collect(launcher, 60_000);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'pid=unset usec=30000000\n');
  const [d] = await listener.waitFor(1);
  t.is(d!.data, `WATCHDOG=1\nMAINPID=${launcher.pid}`);
  t.is(d!.pid, launcher.pid!);
});
