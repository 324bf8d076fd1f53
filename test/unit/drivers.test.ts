// Every registered driver implements its contract (src/net/driver.ts,
// src/port/driver.ts): both halves are listed under the name the CLI
// accepts, the parent half's check/prepare behave as declared. A new driver
// is tested here by being registered; its behaviour end to end by the e2e
// suites (net.test.ts, port-drivers.test.ts).
import test from 'ava';
import { fstatSync } from 'node:fs';
import { NET_DRIVERS, PORT_DRIVERS } from '../../src/protocol/drivers.js';
import { NETWORK_DRIVER_NAMES, networkDriver, type DriverHost } from '../../src/net/index.js';
import { CHILD_HALVES as NET_CHILD_HALVES } from '../../src/net/child.js';
import { PORT_DRIVER_NAMES, portDriver } from '../../src/port/index.js';
import { CHILD_HALVES as PORT_CHILD_HALVES } from '../../src/port/child.js';
import { parsePublishFlags } from '../../src/port/spec.js';
import type { PortPlan } from '../../src/port/types.js';
import { RootlessError, UsageError } from '../../src/sys/errors.js';

/** A machine with these executable files and nothing else. */
function fakeHost(programs: Record<string, { version: string; options: string[] }>, files: Record<string, string> = {}): DriverHost {
  return {
    env: { PATH: '/usr/bin' },
    cwd: '/',
    read: (p) => files[p],
    executable: (p) => (p in programs ? undefined : 'ENOENT'),
    features: async (p) => programs[p],
  };
}

test('the network registries list exactly the drivers --net accepts, each with its parent and child half', async (t) => {
  t.deepEqual([...NETWORK_DRIVER_NAMES].sort(), [...NET_DRIVERS].sort());
  t.deepEqual(Object.keys(NET_CHILD_HALVES).sort(), [...NET_DRIVERS].sort());
  for (const name of NET_DRIVERS) {
    const d = await networkDriver(name);
    t.is(d.name, name);
    t.is(typeof d.check, 'function', name);
    t.is(typeof d.start, 'function', name);
    t.is(typeof NET_CHILD_HALVES[name].configure, 'function', name);
  }
});

test('host and none run no program: their check finds nothing to refuse', async (t) => {
  for (const name of ['host', 'none'] as const) {
    const d = await networkDriver(name);
    t.is(d.program, undefined);
    t.deepEqual(await d.check(fakeHost({})), {});
  }
});

for (const [name, pkg] of [['slirp4netns', 'slirp4netns'], ['pasta', 'passt']] as const) {
  test(`${name}: check names the program and its package when it is missing, and the program's features when it is there`, async (t) => {
    const d = await networkDriver(name);
    t.is(d.program?.debianPackage, pkg);
    const missing = await d.check(fakeHost({}));
    t.true(missing.problem instanceof RootlessError);
    t.is(missing.problem!.message, `${name}: not found in PATH; --net=${name} needs it (Debian package: ${pkg})`);
    t.is(missing.program, undefined);

    const file = `/usr/bin/${name}`;
    const found = await d.check(fakeHost({ [file]: { version: `${name} 1.0`, options: ['--enable-ipv6', '--enable-sandbox'] } }, { '/proc/net/if_inet6': '00000000000000000000000000000001 01 80 10 80       lo\n' }));
    t.is(found.problem, undefined);
    t.is(found.program, file);
    t.is(found.version, `${name} 1.0`);
    t.true((found.features ?? []).some((f) => /^IPv6 yes/.test(f)), JSON.stringify(found.features));

    // The settings name another program (--slirp4netns-binary, --pasta-binary).
    const other = await d.check(fakeHost({ '/opt/x': { version: 'x', options: [] } }), { [d.program!.setting]: '/opt/x' } as never);
    t.is(other.program, '/opt/x');
  });
}

const plan = (driver: PortPlan['driver'], publish: string[] = []): PortPlan => ({ driver, publish: parsePublishFlags(publish), sourceIPTransparent: false });

test('the port registries list exactly the drivers --port-driver accepts, each with its parent and child half', async (t) => {
  t.deepEqual([...PORT_DRIVER_NAMES].sort(), [...PORT_DRIVERS].sort());
  t.deepEqual([...PORT_CHILD_HALVES.names].sort(), [...PORT_DRIVERS].sort());
  for (const name of PORT_DRIVERS) {
    const d = await portDriver(name);
    t.is(d.name, name);
    for (const hook of ['check', 'prepare', 'start'] as const) t.is(typeof d[hook], 'function', `${name}.${hook}`);
    t.is(typeof (await PORT_CHILD_HALVES.load(name)).start, 'function', name);
  }
});

test('port drivers without fds prepare nothing for the child; implicit hands pasta its -p specs', async (t) => {
  for (const name of ['none', 'slirp4netns', 'implicit'] as const) {
    const prep = await (await portDriver(name)).prepare(plan(name, name === 'none' ? [] : ['127.0.0.1:8080:80/tcp']));
    t.deepEqual(prep.childFds, [], name);
    prep.cloned([]);
    prep.discard();
  }
  const implicit = await (await portDriver('implicit')).prepare(plan('implicit', ['127.0.0.1:8080:80/tcp']));
  t.deepEqual(implicit.forNetwork, ['--tcp-ports', '127.0.0.1/8080:80', '--udp-ports', 'none']);
});

test('implicit: check refuses what pasta cannot forward, before anything starts', async (t) => {
  const d = await portDriver('implicit');
  t.throws(() => d.check(plan('implicit', ['8080:80/sctp'])), { instanceOf: UsageError, message: /pasta does not forward sctp/ });
  t.notThrows(() => d.check(plan('implicit', ['8080:80/udp'])));
  for (const name of ['none', 'builtin', 'slirp4netns'] as const) {
    const other = await portDriver(name);
    t.notThrows(() => other.check(plan(name, name === 'none' ? [] : ['8080:80/sctp'])), name);
  }
});

test('builtin: the child gets one control socket per worker; discard closes every fd it made', async (t) => {
  const prep = await (await portDriver('builtin')).prepare(plan('builtin'));
  t.is(prep.childFds.length, 1);
  const childEnds = [...prep.childFds];
  // Opaque to the launcher; the test looks inside.
  const parentEnds = [...(prep as unknown as { sockets: { parentFds: number[] } }).sockets.parentFds];
  for (const fd of [...childEnds, ...parentEnds]) t.true(fstatSync(fd).isSocket());
  prep.cloned([6]);
  // The parent's copy of the child's end is closed once the child has it.
  for (const fd of childEnds) t.throws(() => fstatSync(fd), { code: 'EBADF' });
  for (const fd of parentEnds) t.true(fstatSync(fd).isSocket());
  prep.discard();
  prep.discard();
  for (const fd of parentEnds) t.throws(() => fstatSync(fd), { code: 'EBADF' });
});
