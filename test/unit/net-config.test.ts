// Pure parts of the network drivers: the guest network from --cidr, the
// session's resolv.conf and hosts, and the drivers' command lines.
import test from 'ava';
import { defaultRunOptions, type RunOptions } from '../../src/cli/options.js';
import { RootlessError, UsageError } from '../../src/sys/errors.js';
import { guestNetwork } from '../../src/net/cidr.js';
import { hostsFile, resolvConf } from '../../src/net/dns/content.js';
import { slirp4netnsArgs } from '../../src/net/slirp4netns/parent.js';
import { pastaArgs } from '../../src/net/pasta/parent.js';
import { pastaForwards, pastaPortArgs } from '../../src/port/implicit/forwards.js';
import { parsePublishFlags } from '../../src/port/spec.js';
import { planLaunch } from '../../src/cli/plan.js';
import type { NetworkPlan } from '../../src/net/types.js';
import { detachedNetnsPath } from '../../src/net/detach/parent.js';
import { PASTA, SLIRP } from '../helpers/helper-features.js';

const opts = (o: Partial<RunOptions>): NetworkPlan => planLaunch({ ...defaultRunOptions(['true']), publishSpecs: [], ...o }).network;
/** What the implicit port driver hands pasta for these flags. */
const fromPorts = (o: Partial<RunOptions>): string[] | undefined =>
  o.portDriver === 'implicit' ? pastaPortArgs(parsePublishFlags(o.publish ?? [])) : undefined;

test('guest network: .100, gateway .2 and DNS .3 of the default 10.0.2.0/24', (t) => {
  t.deepEqual(guestNetwork(), { cidr: '10.0.2.0/24', prefixLength: 24, guest: '10.0.2.100', gateway: '10.0.2.2', dns: '10.0.2.3' });
});

test('guest network of another --cidr, across an octet boundary', (t) => {
  t.deepEqual(guestNetwork('192.168.0.0/16'), { cidr: '192.168.0.0/16', prefixLength: 16, guest: '192.168.0.100', gateway: '192.168.0.2', dns: '192.168.0.3' });
  t.is(guestNetwork('10.10.10.128/25').guest, '10.10.10.228');
});

test('resolv.conf names each nameserver', (t) => {
  t.is(resolvConf(['10.0.2.3']), 'nameserver 10.0.2.3\n');
  t.is(resolvConf(['10.0.2.3', 'fd00::3']), 'nameserver 10.0.2.3\nnameserver fd00::3\n');
});

test('hosts puts localhost and the host name on loopback before the host entries', (t) => {
  const text = hostsFile('box', '192.0.2.7 box\n');
  const lines = text.split('\n');
  t.is(lines[0], '127.0.0.1\tlocalhost');
  t.true(lines.indexOf('127.0.0.1\tbox') < lines.indexOf('192.0.2.7 box'), 'the loopback line wins (first match)');
  t.true(text.includes('::1\tbox'));
  t.true(text.endsWith('192.0.2.7 box\n'));
});

test('hosts without the host file, and with the name localhost', (t) => {
  t.is(hostsFile('localhost', undefined), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
});

const slirp = (o: Partial<RunOptions>, f = SLIRP, seccompKernel = true): string[] =>
  slirp4netnsArgs({ opts: opts({ net: 'slirp4netns', ...o }), features: f, file: '/usr/bin/slirp4netns', childPid: 42, stateDir: '/run/s', apiSocket: '/run/s/slirp4netns.sock', seccompKernel });

test('slirp4netns: configures the tap itself, with ready and exit fds, attached by pid', (t) => {
  const a = slirp({});
  t.deepEqual(a.slice(0, 8), ['/usr/bin/slirp4netns', '--mtu', '65520', '--configure', '--ready-fd=3', '--exit-fd=4', '--api-socket', '/run/s/slirp4netns.sock']);
  t.deepEqual(a.slice(-2), ['42', 'tap0']);
  t.false(a.includes('--cidr'), 'the default network is slirp4netns\'s own');
  t.false(a.includes('--disable-host-loopback'));
});

test('slirp4netns: --mtu, --cidr, --ifname, --disable-host-loopback, --ipv6 pass through', (t) => {
  const a = slirp({ mtu: 1500, cidr: '10.0.5.0/24', ifname: 'eth7', disableHostLoopback: true, ipv6: true });
  t.is(a[a.indexOf('--mtu') + 1], '1500');
  t.is(a[a.indexOf('--cidr') + 1], '10.0.5.0/24');
  t.true(a.includes('--disable-host-loopback'));
  t.true(a.includes('--enable-ipv6'));
  t.is(a.at(-1), 'eth7');
});

test('slirp4netns: sandbox and seccomp auto = on when supported, off when not', (t) => {
  t.true(slirp({}).includes('--enable-sandbox'));
  t.true(slirp({}).includes('--enable-seccomp'));
  t.false(slirp({}, SLIRP, false).includes('--enable-seccomp'), 'no seccomp in the kernel');
  const old = { ...SLIRP, options: SLIRP.options.filter((o) => o !== '--enable-sandbox' && o !== '--enable-seccomp') };
  t.false(slirp({}, old).includes('--enable-sandbox'));
  t.false(slirp({ slirp4netnsSandbox: 'false', slirp4netnsSeccomp: 'false' }).includes('--enable-sandbox'));
});

test('slirp4netns: =true on a version without it is an error naming the version', (t) => {
  const old = { ...SLIRP, options: SLIRP.options.filter((o) => o !== '--enable-seccomp') };
  const err = t.throws(() => slirp({ slirp4netnsSeccomp: 'true' }, old), { instanceOf: RootlessError });
  t.regex(err!.message, /slirp4netns version 1\.2\.0 .*does not support --enable-seccomp/);
  t.throws(() => slirp({ slirp4netnsSeccomp: 'true' }, SLIRP, false), { message: /no seccomp/ });
});

test('slirp4netns older than 0.4.0 (no --netns-type) is refused', (t) => {
  const ancient = { version: 'slirp4netns version 0.3.0', options: SLIRP.options.filter((o) => o !== '--netns-type') };
  t.throws(() => slirp({}, ancient), { message: /0\.3\.0.*--netns-type/ });
});

test('slirp4netns with --detach-netns: the bound namespace through the child\'s root, and its user namespace', (t) => {
  const a = slirp({ detachNetns: true });
  t.deepEqual(a.slice(-4), ['--userns-path=/proc/42/ns/user', '--netns-type=path', '/proc/42/root/run/s/netns', 'tap0']);
  t.is(detachedNetnsPath(7, '/tmp/x'), '/proc/7/root/tmp/x/netns');
});

const pasta = (o: Partial<RunOptions>, f = PASTA): string[] =>
  pastaArgs({ opts: opts({ net: 'pasta', ...o }), features: f, file: '/usr/bin/pasta', childPid: 42, stateDir: '/run/s', pidFile: '/run/s/pasta.pid', fromPorts: fromPorts(o) });

const after = (a: string[], flag: string): string[] => a.flatMap((x, i) => (x === flag ? [a[i + 1]!] : []));

test('pasta: foreground, configures the interface as slirp4netns would, no port forwarding by default', (t) => {
  const a = pasta({});
  t.is(a[0], '/usr/bin/pasta');
  t.true(a.includes('--foreground') && a.includes('--config-net'));
  t.deepEqual(after(a, '--address'), ['10.0.2.100']);
  t.deepEqual(after(a, '--netmask'), ['24']);
  t.deepEqual(after(a, '--gateway'), ['10.0.2.2']);
  t.deepEqual(after(a, '--dns-forward'), ['10.0.2.3']);
  t.deepEqual(after(a, '--ns-ifname'), ['tap0']);
  t.deepEqual(after(a, '--mtu'), ['65520']);
  t.deepEqual(after(a, '--pid'), ['/run/s/pasta.pid']);
  t.deepEqual(after(a, '--tcp-ports'), ['none']);
  t.deepEqual(after(a, '--tcp-ns'), ['none'], 'no mirror of the host\'s ports on the namespace\'s loopback');
  t.true(a.includes('--ipv4-only'));
  t.false(a.includes('--no-map-gw'));
  t.is(a.at(-1), '42');
});

test('pasta: --disable-host-loopback, --ipv6, --cidr, --detach-netns', (t) => {
  const a = pasta({ disableHostLoopback: true, ipv6: true, cidr: '10.9.0.0/16', detachNetns: true });
  t.true(a.includes('--no-map-gw'));
  t.false(a.includes('--ipv4-only'));
  t.deepEqual(after(a, '--address'), ['10.9.0.100']);
  t.deepEqual(after(a, '--netmask'), ['16']);
  t.deepEqual(a.slice(-4), ['--userns', '/proc/42/ns/user', '--netns', '/proc/42/root/run/s/netns']);
});

test('pasta too old for an option: the error names the option and the version', (t) => {
  const old = { ...PASTA, options: PASTA.options.filter((o) => o !== '--no-map-gw') };
  t.notThrows(() => pasta({}, old));
  const err = t.throws(() => pasta({ disableHostLoopback: true }, old), { instanceOf: RootlessError });
  t.regex(err!.message, /^pasta \(pasta unknown version, \/usr\/bin\/pasta\) does not support --no-map-gw, needed for --disable-host-loopback/);
});

test('pasta with the implicit port driver: -p specs become -t/-u, none means every bound port', (t) => {
  t.deepEqual(after(pasta({ portDriver: 'implicit' }), '--tcp-ports'), ['auto']);
  const a = pasta({ portDriver: 'implicit', publish: ['8080:80', '127.0.0.1:5353:53/udp', '[::1]:9000:90/tcp6'] });
  t.deepEqual(after(a, '--tcp-ports'), ['8080:80', '::1/9000:90']);
  t.deepEqual(after(a, '--udp-ports'), ['127.0.0.1/5353:53']);
});

test('pasta cannot forward sctp or to a chosen child IP: usage errors', (t) => {
  t.throws(() => pastaForwards(parsePublishFlags(['8080:80/sctp'])), { instanceOf: UsageError, message: /sctp/ });
  t.throws(() => pastaForwards(parsePublishFlags(['8080:10.0.2.100:80'])), { instanceOf: UsageError, message: /child IP/ });
  t.throws(() => pastaForwards(parsePublishFlags(['nope'])), { instanceOf: UsageError });
});
