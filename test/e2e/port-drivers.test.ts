// Port-driver conformance, as RootlessKit's pkg/port/testsuite: the same
// cases against every port driver in PORT_DRIVERS. A new driver (or a
// driver with another option) gets every case by being listed there.
// Each case starts its own session, as the unprivileged test user, with
// test/helpers/port-target.ts serving inside and clients here on the host,
// on host ports the kernel picks.
//
// What a driver cannot do is declared in its entry, never skipped quietly:
// `refuses` (the start must fail with that message: the driver's own clear
// refusal) or `known` (a bug outside rootless; the case is listed as
// skipped with the reason in its title).
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import {
  PortClash, TARGET, U, clashOn, e2e, exchange, freePorts, lines, portSession, readAll, refused, run, sha, skip, udpExchange, userDir, withPorts,
} from '../helpers/e2e.js';
import { SOURCE_BLOCKS, SOURCE_BLOCK_SIZE, deterministicSha } from '../helpers/port-data.js';

type CaseId = 'tcp' | 'udp' | 'udp-local' | 'tcp6' | 'half-close' | 'refused-inside' | 'runtime' | 'bulk' | 'bulk-echo';

interface PortDriver {
  /** Shown in the test titles. */
  name: string;
  /** Launcher flags: --net, --port-driver, and any option of the entry (e.g. a mode of the driver). */
  flags: string[];
  /** Programs it needs; without them its cases are listed as skipped, saying which is missing. */
  needs?: string[];
  /** Flags the IPv6 case adds (a network driver that is IPv4-only unless told). */
  ipv6Flags?: string[];
  /** Cases the driver refuses by design, with the one-line refusal expected (at start, or for runtime changes). */
  refuses?: Partial<Record<CaseId, RegExp>>;
  /** Cases that fail because of a bug outside rootless: listed as skipped with this reason. */
  known?: Partial<Record<CaseId, string>>;
}

const PASTA_UDP_LOOPBACK =
  "Debian 12's passt loses the replies on its loopback (\"spliced\") UDP path, with or without rootless (docs/networking.md); udp-local covers pasta's UDP";
const PASTA_HALF_CLOSE_TAIL =
  "Debian 12's passt now and then drops the tail of what flows to a client that has shut down its writing, with or without rootless (docs/networking.md); bulk covers 64 MiB each way";

/** The port drivers, each with the flags that select it. One entry per driver or per driver option. */
const PORT_DRIVERS: PortDriver[] = [
  // The builtin driver keeps the client's address by default
  // (--source-ip-transparent); every case runs with it off too.
  { name: 'builtin', flags: ['--net=none', '--port-driver=builtin'] },
  { name: 'builtin, client address not kept', flags: ['--net=none', '--port-driver=builtin', '--source-ip-transparent=false'] },
  { name: 'builtin over slirp4netns', flags: ['--net=slirp4netns', '--port-driver=builtin'], needs: ['slirp4netns'] },
  {
    name: 'slirp4netns',
    flags: ['--net=slirp4netns', '--port-driver=slirp4netns'],
    needs: ['slirp4netns'],
    refuses: { tcp6: /--publish \[::1\]:\d+:80\/tcp6: proto tcp6 is not supported by the slirp4netns port driver/ },
  },
  {
    name: 'implicit (pasta)',
    flags: ['--net=pasta', '--port-driver=implicit'],
    needs: ['pasta'],
    ipv6Flags: ['--ipv6'],
    refuses: { runtime: /cannot change ports while the session runs/ },
    known: { udp: PASTA_UDP_LOOPBACK, 'bulk-echo': PASTA_HALF_CLOSE_TAIL },
  },
];

const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

/** A local, non-loopback IPv4 address of this host (traffic to it never leaves the machine). */
function localAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

type Case = (t: ExecutionContext, d: PortDriver) => Promise<void>;

/** A session of driver `d` publishing `specs(ports)` (host ports from the kernel), with port-target's `servers`. */
function driverSession(t: ExecutionContext, d: PortDriver, n: number, specs: (ports: number[]) => string[], servers: string[], extra: string[] = []) {
  return portSession(t, n, (ports) => [...d.flags, ...extra, ...specs(ports).flatMap((s) => ['-p', s])], servers);
}

/** The start of a session with `spec` fails with the driver's refusal: one line (besides warnings), non-zero, nothing left. */
async function refusedAtStart(t: ExecutionContext, d: PortDriver, spec: (port: number) => string, re: RegExp, extra: string[] = []): Promise<void> {
  const state = join(userDir('refused-', t), 'state');
  const r = await withPorts(1, async ([p]) => {
    const r = await run(U, ['run', '--state-dir', state, ...d.flags, ...extra, '-p', spec(p!), '--', process.execPath, TARGET, 'tcp-echo:80']);
    if (clashOn(r.stderr, [p!])) throw new PortClash(r.stderr);
    return r;
  });
  t.not(r.code, 0);
  t.regex(r.stderr, re);
  t.is(lines(r.stderr).filter((l) => !l.startsWith('rootless: warning: ')).length, 1, r.stderr);
}

const CASES: Record<CaseId, { title: string; run: Case }> = {
  tcp: {
    title: 'tcp to 127.0.0.1 reaches the server inside',
    run: async (t, d) => {
      const s = await driverSession(t, d, 1, ([p]) => [`127.0.0.1:${p}:80/tcp`], ['tcp-echo:80']);
      t.is((await exchange(s.ports[0]!, '127.0.0.1', 'over tcp')).toString(), 'over tcp');
      t.is((await exchange(s.ports[0]!, '127.0.0.1', 'and again')).toString(), 'and again');
      await s.stop();
    },
  },
  udp: {
    title: 'udp to 127.0.0.1: a datagram and its reply',
    run: async (t, d) => {
      const s = await driverSession(t, d, 1, ([p]) => [`127.0.0.1:${p}:53/udp`], ['udp-echo:53']);
      t.is(await udpExchange(s.ports[0]!, '127.0.0.1', 'over udp'), 'over udp');
      await s.stop();
    },
  },
  'udp-local': {
    title: "udp to the host's own non-loopback address (port published on every address)",
    run: async (t, d) => {
      const local = localAddress();
      if (local === undefined) {
        t.fail('this host has no non-loopback IPv4 address to send to');
        return;
      }
      const s = await driverSession(t, d, 1, ([p]) => [`${p}:53/udp`], ['udp-echo:53']);
      t.is(await udpExchange(s.ports[0]!, local, 'over udp'), 'over udp');
      await s.stop();
    },
  },
  tcp6: {
    title: 'tcp6 to [::1] reaches the server inside',
    run: async (t, d) => {
      const spec = (p: number): string => `[::1]:${p}:80/tcp6`;
      const refusal = d.refuses?.tcp6;
      if (refusal) return refusedAtStart(t, d, spec, refusal, d.ipv6Flags);
      const s = await driverSession(t, d, 1, ([p]) => [spec(p!)], ['tcp-echo:80'], d.ipv6Flags);
      t.is((await exchange(s.ports[0]!, '::1', 'over tcp6')).toString(), 'over tcp6');
      await s.stop();
    },
  },
  'half-close': {
    title: 'half-close: the client shuts down writing and still reads the reply',
    run: async (t, d) => {
      const s = await driverSession(t, d, 1, ([p]) => [`127.0.0.1:${p}:81/tcp`], ['count:81']);
      const body = randomBytes(3 << 20);
      // The server answers only once it has read EOF.
      t.is((await exchange(s.ports[0]!, '127.0.0.1', body)).toString(), `${body.length} ${sha(body)}`);
      await s.stop();
    },
  },
  'refused-inside': {
    title: 'nothing listening inside: the host connection is reset or closed, no data, the session unharmed',
    run: async (t, d) => {
      const s = await driverSession(t, d, 2, ([a, b]) => [`127.0.0.1:${a}:99/tcp`, `127.0.0.1:${b}:80/tcp`], ['tcp-echo:80']);
      const c = connect(s.ports[0]!, '127.0.0.1');
      const outcome = await new Promise<string>((res) => {
        c.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
        c.on('data', () => res('data'));
        c.on('close', () => res('closed'));
      });
      c.destroy();
      t.true(outcome === 'ECONNRESET' || outcome === 'closed' || outcome === 'ECONNREFUSED', outcome);
      t.is(s.child.exitCode, null, 'the session runs on');
      t.is((await exchange(s.ports[1]!, '127.0.0.1', 'still')).toString(), 'still', 'other ports still forward');
      await s.stop();
    },
  },
  runtime: {
    title: 'ports added and removed while the session runs (or the driver refuses clearly)',
    run: async (t, d) => {
      const s = await driverSession(t, d, 1, ([p]) => [`127.0.0.1:${p}:80/tcp`], ['tcp-echo:80']);
      const ports = (...args: string[]): ReturnType<typeof run> => run(U, ['ports', '--state-dir', s.stateDir!, ...args]);
      const refusal = d.refuses?.runtime;
      if (refusal) {
        const [other] = await freePorts(1);
        const add = await ports('add', `127.0.0.1:${other}:80/tcp`);
        t.is(add.code, 1);
        t.regex(add.stderr, refusal);
        t.is(lines(add.stderr).length, 1, add.stderr);
        const rm = await ports('rm', '1');
        t.is(rm.code, 1);
        t.regex(rm.stderr, refusal);
        t.is((await exchange(s.ports[0]!, '127.0.0.1', 'still')).toString(), 'still', 'the ports given at start still forward');
        await s.stop();
        return;
      }
      const added = await withPorts(1, async ([q]) => {
        const add = await ports('add', `127.0.0.1:${q}:80/tcp`);
        if (clashOn(add.stderr, [q!])) throw new PortClash(add.stderr);
        t.is(add.code, 0, add.stderr);
        return q!;
      });
      t.is((await exchange(added, '127.0.0.1', 'through the added port')).toString(), 'through the added port');
      const rm = await ports('rm', '2');
      t.is(rm.code, 0, rm.stderr);
      t.true(await refused(added), 'the removed port is closed');
      t.is((await exchange(s.ports[0]!, '127.0.0.1', 'still')).toString(), 'still');
      await s.stop();
    },
  },
  bulk: {
    title: '64 MiB in and 64 MiB out, sha256 intact',
    run: async (t, d) => {
      const s = await driverSession(t, d, 2, ([a, b]) => [`127.0.0.1:${a}:81/tcp`, `127.0.0.1:${b}:83/tcp`], ['count:81', 'source:83']);
      const up = randomBytes(64 << 20);
      t.is((await exchange(s.ports[0]!, '127.0.0.1', up)).toString(), `${up.length} ${sha(up)}`, '64 MiB in');
      // Out: read to EOF without closing our side first.
      const down = await readAll(connect(s.ports[1]!, '127.0.0.1'));
      t.is(down.length, SOURCE_BLOCKS * SOURCE_BLOCK_SIZE, '64 MiB out');
      t.is(sha(down), deterministicSha());
      await s.stop();
    },
  },
  'bulk-echo': {
    title: '64 MiB echoed back after the client half-closed',
    run: async (t, d) => {
      const s = await driverSession(t, d, 1, ([p]) => [`127.0.0.1:${p}:80/tcp`], ['tcp-echo:80']);
      const payload = randomBytes(64 << 20);
      const back = await exchange(s.ports[0]!, '127.0.0.1', payload);
      t.is(back.length, payload.length, '64 MiB back');
      t.is(sha(back), sha(payload), 'sha256 matches');
      await s.stop();
    },
  },
};

for (const d of PORT_DRIVERS) {
  const missing = (d.needs ?? []).filter((b) => !has(b));
  for (const [id, c] of Object.entries(CASES) as [CaseId, (typeof CASES)[CaseId]][]) {
    const title = `${d.name}: ${id}: ${c.title}`;
    const known = d.known?.[id];
    if (missing.length > 0) skip(title, `${missing.join(', ')} not installed (scripts/setup-test-env.sh installs it)`);
    else if (known !== undefined) skip(title, `known bug: ${known}`);
    else e2e(title, (t) => c.run(t, d));
  }
}
