// End-to-end: the network drivers, as the unprivileged user, with the real
// slirp4netns and pasta. Servers run here on the host's loopback, on ports
// the kernel picks; nothing leaves the machine.
import { type ExecutionContext } from 'ava';
import { createServer, type Server } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { chownSync, chmodSync, existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { U, alive, collect, descendants, e2e, eventually, exchange, lines, portSession, run, start, userDir, waitFor } from '../helpers/e2e.js';

const DRIVERS = ['slirp4netns', 'pasta'] as const;
type Driver = (typeof DRIVERS)[number];

/** A TCP server on the host's loopback, on a port the kernel picks, that greets and closes. */
async function greeter(t: ExecutionContext): Promise<number> {
  const server: Server = createServer((c) => c.end(`hello from the host ${port}\n`));
  await new Promise<void>((res, rej) => server.once('error', rej).listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  t.teardown(() => new Promise<void>((res) => server.close(() => res())));
  return port;
}

/** A UDP echo server on the host's loopback, on a port the kernel picks. */
async function udpEcho(t: ExecutionContext): Promise<number> {
  const sock: UdpSocket = createSocket('udp4');
  sock.on('message', (msg, from) => sock.send(Buffer.concat([Buffer.from('echo:'), msg]), from.port, from.address));
  await new Promise<void>((res, rej) => sock.once('error', rej).bind(0, '127.0.0.1', res));
  t.teardown(() => new Promise<void>((res) => sock.close(() => res())));
  return sock.address().port;
}

// Run inside the namespace with node: connect, print what happened.
const TCP_PROBE = `
const s = require('net').connect({ host: process.argv[1], port: Number(process.argv[2]) });
s.setTimeout(Number(process.argv[3]));
let got = '';
s.on('data', (d) => (got += d));
s.on('end', () => { console.log('data:' + got.trim()); process.exit(0); });
s.on('error', (e) => { console.log('error:' + e.code); process.exit(0); });
s.on('timeout', () => { console.log('timeout'); process.exit(0); });
`;
const UDP_PROBE = `
const s = require('dgram').createSocket('udp4');
s.on('message', (m) => { console.log('reply:' + m); process.exit(0); });
// Datagrams may be lost: send again until the answer comes (the test's backstop ends a hang).
const send = () => s.send('ping', Number(process.argv[2]), process.argv[1]);
send();
setInterval(send, 500);
`;

/** The interface as `ip` shows it inside: address/prefix, mtu, routes. */
const SHOW_NET = (ifname: string): string =>
  `ip -o -4 addr show dev ${ifname} | awk '{print "addr " $4}'; ip -o link show dev ${ifname} | sed -n 's/.* mtu \\([0-9]*\\).*/mtu \\1/p'; ` +
  `ip -4 route show default | awk '{print "gw " $3 " dev " $5}'; awk 'NR>1 && $2=="00000000" {print "procroute " $1 " " $3}' /proc/net/route; ` +
  `ip -o link show lo | grep -q 'state UNKNOWN\\|LOWER_UP' && echo lo-up`;

for (const driver of DRIVERS) {
  e2e(`${driver}: address, route and MTU by default`, async (t) => {
    const r = await run(U, ['run', `--net=${driver}`, '--', 'sh', '-c', SHOW_NET('tap0')]);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(lines(r.stdout), ['addr 10.0.2.100/24', 'mtu 65520', 'gw 10.0.2.2 dev tap0', 'procroute tap0 0202000A', 'lo-up']);
  });

  e2e(`${driver}: --mtu, --cidr and --ifname`, async (t) => {
    const r = await run(U, ['run', `--net=${driver}`, '--mtu=1500', '--cidr=10.0.5.0/24', '--ifname=eth7', '--', 'sh', '-c',
      `${SHOW_NET('eth7')}; cat /etc/resolv.conf`]);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(lines(r.stdout), ['addr 10.0.5.100/24', 'mtu 1500', 'gw 10.0.5.2 dev eth7', 'procroute eth7 0205000A', 'lo-up', 'nameserver 10.0.5.3']);
  });
}

for (const driver of DRIVERS) {
  e2e(`${driver}: TCP from inside reaches the host's loopback through the gateway`, async (t) => {
    const port = await greeter(t);
    const r = await run(U, ['run', `--net=${driver}`, '--', process.execPath, '-e', TCP_PROBE, '10.0.2.2', String(port), '20000']);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.trim(), `data:hello from the host ${port}`);
  });

  e2e(`${driver}: --disable-host-loopback keeps the host's loopback out of reach`, async (t) => {
    const port = await greeter(t);
    const r = await run(U, ['run', `--net=${driver}`, '--disable-host-loopback', '--', process.execPath, '-e', TCP_PROBE, '10.0.2.2', String(port), '4000']);
    t.is(r.code, 0, r.stderr);
    // slirp4netns refuses at once (host unreachable); pasta, told not to
    // map the gateway to the host, sends it out where nothing answers.
    if (driver === 'slirp4netns') t.regex(r.stdout.trim(), /^error:(ENETUNREACH|EHOSTUNREACH|ECONNREFUSED)$/);
    else t.regex(r.stdout.trim(), /^(error:\w+|timeout)$/);
    t.notRegex(r.stdout, /hello/);
  });

  e2e(`${driver}: UDP round trip to the host's loopback`, async (t) => {
    const port = await udpEcho(t);
    const r = await run(U, ['run', `--net=${driver}`, '--', process.execPath, '-e', UDP_PROBE, '10.0.2.2', String(port)]);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.trim(), 'reply:echo:ping');
  });

  e2e(`${driver}: /etc/resolv.conf and /etc/hosts inside, from the state dir, with a warning without --copy-up=/etc`, async (t) => {
    const dir = userDir('rootless-net-dns-', t);
    const state = join(dir, 'state');
    const r = await run(U, ['run', `--net=${driver}`, `--state-dir=${state}`, '--', 'sh', '-c',
      'cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; getent hosts "$(hostname)"; echo ---; ' +
      'cmp /etc/resolv.conf "$ROOTLESSKIT_STATE_DIR/resolv.conf" && echo same-resolv; cmp /etc/hosts "$ROOTLESSKIT_STATE_DIR/hosts" && echo same-hosts; ' +
      'awk \'$5 == "/etc/resolv.conf" || $5 == "/etc/hosts" {print "mount " $5}\' /proc/self/mountinfo; ' +
      'stat -c "%a %n" "$ROOTLESSKIT_STATE_DIR/resolv.conf" "$ROOTLESSKIT_STATE_DIR/hosts"']);
    t.is(r.code, 0, r.stderr);
    const [resolv, hosts, self, rest] = r.stdout.split('---\n') as [string, string, string, string];
    t.is(resolv, 'nameserver 10.0.2.3\n');
    t.regex(hosts, /^127\.0\.0\.1\tlocalhost\n/);
    t.regex(self, /^(127\.0\.0\.1|::1)\s/, 'the host name resolves to loopback inside');
    t.deepEqual(lines(rest), [
      'same-resolv', 'same-hosts', 'mount /etc/resolv.conf', 'mount /etc/hosts',
      `644 ${state}/resolv.conf`, `644 ${state}/hosts`,
    ]);
    t.regex(r.stderr, /without --copy-up=\/etc/);
    t.false(existsSync(state), 'resolv.conf and hosts are removed with the session (and the state dir it made)');
  });
}

e2e('with --copy-up=/etc, resolv.conf and hosts are files of the copied-up /etc, no warning', async (t) => {
  const r = await run(U, ['run', '--net=slirp4netns', '--copy-up=/etc', '--disable-host-loopback', '--', 'sh', '-c',
    'cat /etc/resolv.conf; test -L /etc/resolv.conf && echo link; test -L /etc/hosts && echo link; ' +
    'awk \'$5 == "/etc" {print "etc " $9} $5 == "/etc/resolv.conf" || $5 == "/etc/hosts" {print "mount " $5}\' /proc/self/mountinfo; ' +
    'test -L /etc/passwd && echo other-entries-still-links']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(lines(r.stdout), ['nameserver 10.0.2.3', 'etc tmpfs', 'mount /etc/resolv.conf', 'mount /etc/hosts', 'other-entries-still-links']);
  t.notRegex(r.stderr, /copy-up/);
});

for (const driver of DRIVERS) {
  e2e(`${driver} --detach-netns: the target keeps the host's namespace; $STATE/netns has the driver's`, async (t) => {
    const hostNetns = readlinkSync('/proc/self/ns/net');
    const r = await run(U, ['run', `--net=${driver}`, '--detach-netns', '--', 'sh', '-c',
      'readlink /proc/self/ns/net; nsenter --net="$ROOTLESSKIT_STATE_DIR/netns" sh -c "' +
      'readlink /proc/self/ns/net; ip -o -4 addr show dev tap0 | awk \'{print \\$4}\'; ip -4 route show default | awk \'{print \\$3}\'"; ' +
      'cat "$ROOTLESSKIT_STATE_DIR/resolv.conf"; cmp -s /etc/resolv.conf "$ROOTLESSKIT_STATE_DIR/resolv.conf" || echo etc-untouched']);
    t.is(r.code, 0, r.stderr);
    const [own, detached, addr, gw, ...rest] = lines(r.stdout);
    t.is(own, hostNetns, "the target's network namespace is the host's");
    t.not(detached, hostNetns);
    t.is(addr, '10.0.2.100/24');
    t.is(gw, '10.0.2.2');
    t.deepEqual(rest, ['nameserver 10.0.2.3', 'etc-untouched']);
  });
}

e2e('--net=none --detach-netns: a detached namespace with only lo, up', async (t) => {
  const r = await run(U, ['run', '--net=none', '--detach-netns', '--', 'sh', '-c', 'nsenter --net="$ROOTLESSKIT_STATE_DIR/netns" ip -o link | awk \'{print $2 $3}\'']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'lo:<LOOPBACK,UP,LOWER_UP>\n');
});

e2e('slirp4netns: its API socket is in the state dir, 0600, while the session runs', async (t) => {
  const r = await run(U, ['run', '--net=slirp4netns', '--', 'sh', '-c', 'stat -c "%F %a" "$ROOTLESSKIT_STATE_DIR/slirp4netns.sock"']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), 'socket 600');
});

e2e('slirp4netns --ipv6: the namespace gets an IPv6 address from slirp4netns', async (t) => {
  // SLAAC and duplicate address detection take a moment: poll inside.
  const r = await run(U, ['run', '--net=slirp4netns', '--ipv6', '--', 'sh', '-c',
    'for i in $(seq 100); do ip -o -6 addr show dev tap0 scope global | grep -q "inet6 fd00::" && break; sleep 0.1; done; ip -o -6 addr show dev tap0 scope global | awk \'{print $4}\'']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout.trim(), /^fd00::[0-9a-f:]+\/64$/);
});

// --- faults and bad input ---------------------------------------------------

for (const [driver, flag, pkg] of [['slirp4netns', '--slirp4netns-binary', 'slirp4netns'], ['pasta', '--pasta-binary', 'passt']] as const) {
  e2e(`${driver}: a missing binary is one line naming it and its package, exit 125, nothing started`, async (t) => {
    const dir = userDir('rootless-net-missing-', t);
    const state = join(dir, 'state');
    const r = await run(U, ['run', `--net=${driver}`, `${flag}=/nonexistent/${driver}`, `--state-dir=${state}`, '--', 'true']);
    t.is(r.code, 125);
    t.is(r.stderr, `rootless: error: /nonexistent/${driver}: no such file; --net=${driver} needs it (Debian package: ${pkg})\n`);
    t.false(existsSync(state), 'nothing was started: not even the state dir');
  });

  e2e(`${driver}: a binary that is not executable is refused the same way`, async (t) => {
    const dir = userDir('rootless-net-noexec-', t);
    const file = join(dir, driver);
    writeFileSync(file, '#!/bin/sh\nexit 0\n');
    chmodSync(file, 0o644);
    if (U.switchTo) chownSync(file, U.uid, U.gid);
    const r = await run(U, ['run', `--net=${driver}`, `${flag}=${file}`, '--', 'true']);
    t.is(r.code, 125);
    t.is(r.stderr, `rootless: error: ${file}: not an executable file (EACCES); --net=${driver} needs it (Debian package: ${pkg})\n`);
  });
}

e2e('slirp4netns missing from PATH names the package', async (t) => {
  const r = await run(U, ['run', '--net=slirp4netns', '--', 'true'], { env: { PATH: '/nonexistent', ROOTLESS_NODE: process.execPath } });
  t.is(r.code, 125);
  t.is(r.stderr, 'rootless: error: slirp4netns: not found in PATH; --net=slirp4netns needs it (Debian package: slirp4netns)\n');
});

function driverPid(launcherPid: number, driver: Driver): number | undefined {
  return descendants(launcherPid).find((d) => d.argv[0]?.endsWith(`/${driver}`))?.pid;
}

for (const driver of DRIVERS) {
  e2e(`${driver} killed during the session: the session ends with a clear error, non-zero, target gone`, async (t) => {
    const child = start(U, ['run', `--net=${driver}`, '--', 'sh', '-c', 'echo target $$; exec sleep 120']);
    const done = collect(child, 60_000);
    const seen = await waitFor(child.stdout!, /target \d+/);
    const target = Number(/target (\d+)/.exec(seen)![1]);
    const pid = driverPid(child.pid!, driver);
    t.truthy(pid, `${driver} runs under the launcher`);
    process.kill(pid!, 'SIGKILL');
    const r = await done;
    t.is(r.code, 125);
    t.regex(r.stderr, new RegExp(`rootless: error: ${driver} \\(pid ${pid}\\) was killed by SIGKILL during the session; the session has no network, so it ends\\n$`));
    t.true(await eventually(async () => !(await alive(target)), 30_000), 'the target is gone');
  });

  e2e(`${driver}: when the launcher is SIGKILLed, the driver goes too`, async (t) => {
    const child = start(U, ['run', `--net=${driver}`, '--', 'sh', '-c', 'echo target $$; exec sleep 120']);
    const done = collect(child, 60_000);
    await waitFor(child.stdout!, /target \d+/);
    const pid = driverPid(child.pid!, driver);
    t.truthy(pid);
    child.kill('SIGKILL');
    await done;
    t.true(await eventually(async () => !(await alive(pid!)), 30_000), `${driver} exited`);
  });
}

e2e('a driver that fails to start: its own words in one line, exit 125', async (t) => {
  // An interface name the kernel refuses inside (valid for our checks, but
  // taken: lo exists), so slirp4netns itself fails.
  const r = await run(U, ['run', '--net=slirp4netns', '--ifname=lo', '--', 'true']);
  t.is(r.code, 125);
  t.regex(r.stderr, /^rootless: error: slirp4netns exited with code \d+ before the network was ready/);
  t.is(lines(r.stderr).length, 1, r.stderr);
});

for (const [args, pattern] of [
  [['--net=slirp4netns', '--cidr=10.0.2.0/33'], /--cidr: "10\.0\.2\.0\/33"/],
  [['--net=slirp4netns', '--cidr=300.0.2.0/24'], /--cidr: "300\.0\.2\.0\/24"/],
  [['--net=slirp4netns', '--mtu=67'], /--mtu: 67 is out of range \(68-65521\)/],
  [['--net=pasta', '--mtu=65522'], /--mtu: 65522 is out of range \(68-65521\)/],
  [['--net=slirp4netns', '--ifname=a/b'], /--ifname: "a\/b"/],
  [['--net=pasta', '--ifname=much-too-long-name'], /--ifname: "much-too-long-name" is too long/],
  [['--disable-host-loopback'], /--disable-host-loopback cannot be used with --net=host/],
  [['--ipv6'], /--ipv6 cannot be used with --net=host/],
  [['--detach-netns'], /--detach-netns cannot be used with --net=host/],
] as const) {
  e2e(`rejected before anything starts: ${args.join(' ')}`, async (t) => {
    const dir = userDir('rootless-net-bad-', t);
    const state = join(dir, 'state');
    const r = await run(U, ['run', ...args, `--state-dir=${state}`, '--', 'true']);
    t.is(r.code, 2);
    t.regex(r.stderr, pattern);
    t.is(lines(r.stderr).length, 1, r.stderr);
    t.false(existsSync(state));
  });
}

e2e('pasta with --port-driver=implicit forwards the -p ports itself', async (t) => {
  const s = await portSession(t, 1, ([port]) => ['--net=pasta', '--port-driver=implicit', '-p', `127.0.0.1:${port}:8080`], ['tcp-echo:8080']);
  t.is((await exchange(s.ports[0]!, '127.0.0.1', 'hello from the host')).toString(), 'hello from the host');
  const r = await s.stop();
  t.is(r.code, 0, r.stderr);
});

for (const [mode, seccomp] of [['auto', '2'], ['false', '0']] as const) {
  e2e(`slirp4netns sandbox and seccomp =${mode}: as the installed version supports (seccomp ${seccomp})`, async (t) => {
    const child = start(U, ['run', '--net=slirp4netns', `--slirp4netns-sandbox=${mode}`, `--slirp4netns-seccomp=${mode}`, '--', 'sh', '-c', 'echo target $$; exec sleep 120']);
    const done = collect(child, 60_000);
    await waitFor(child.stdout!, /target \d+/);
    const pid = driverPid(child.pid!, 'slirp4netns')!;
    t.truthy(pid);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const ownMnt = readlinkSync(`/proc/${child.pid}/ns/mnt`);
    const itsMnt = readlinkSync(`/proc/${pid}/ns/mnt`);
    child.kill('SIGTERM');
    await done;
    t.is(/^Seccomp:\s+(\d)/m.exec(status)?.[1], seccomp);
    if (mode === 'auto') t.not(itsMnt, ownMnt, 'the sandbox gives slirp4netns its own mount namespace');
    else t.is(itsMnt, ownMnt);
  });
}
