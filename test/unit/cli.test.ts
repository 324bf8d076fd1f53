import test from 'ava';
import type { ExecutionContext } from 'ava';
import { ExitCode, UsageError } from '../../src/sys/errors.js';
import { defaultRunOptions, validateRunOptions } from '../../src/cli/options.js';
import type { RunOptions } from '../../src/cli/options.js';
import { CliExit, invokedAsRootlesskit } from '../../src/cli/flags.js';
import { buildProgram, parseArgv } from '../../src/cli/program.js';
import type { CliOutput, ProgramHandlers } from '../../src/cli/program.js';
import { parseRootlesskitArgv, parseRunArgv } from '../helpers/cli.js';

// ---- helpers ----------------------------------------------------------------

interface Captured extends CliOutput {
  out: string;
  err: string;
}
function capture(): Captured {
  const c: Captured = {
    out: '',
    err: '',
    writeOut: (s) => {
      c.out += s;
    },
    writeErr: (s) => {
      c.err += s;
    },
  };
  return c;
}

/** Expect a one-line UsageError (exit 2) containing every fragment. */
function usageError(t: ExecutionContext, fn: () => unknown, ...fragments: string[]): UsageError {
  const err = t.throws(fn, { instanceOf: UsageError }) as UsageError;
  t.is(err.exitCode, ExitCode.Usage);
  t.false(err.message.includes('\n'), `one line: ${err.message}`);
  for (const f of fragments) t.true(err.message.includes(f), `${JSON.stringify(err.message)} should contain ${JSON.stringify(f)}`);
  return err;
}

const run = (...argv: string[]): RunOptions => parseRunArgv(argv, capture());
const opts = (over: Partial<RunOptions>): RunOptions => ({ ...defaultRunOptions(['true']), ...over });

// ---- defaults and the command -----------------------------------------------

test('defaults', (t) => {
  const o = run('sh');
  t.deepEqual(o, { ...defaultRunOptions(['sh']), publishSpecs: [] });
  t.is(o.net, 'host');
  t.is(o.mtu, 65520);
  t.is(o.ifname, 'tap0');
  t.is(o.propagation, 'rprivate');
  t.is(o.portDriver, 'none');
  t.is(o.subidSource, 'auto');
  t.is(o.reaper, 'auto');
  t.is(o.slirp4netnsSandbox, 'auto');
  t.is(o.slirp4netnsSeccomp, 'auto');
  t.is(o.slirp4netnsBinary, 'slirp4netns');
  t.is(o.pastaBinary, 'pasta');
  t.is(o.copyUpMode, 'tmpfs+symlink');
  t.is(o.logLevel, 'info');
  t.is(o.stateDir, undefined);
  t.is(o.cidr, undefined);
  t.is(o.name, undefined);
  t.deepEqual(o.publish, []);
  t.deepEqual(o.copyUp, []);
  t.false(o.pidns || o.cgroupns || o.utsns || o.ipcns || o.ipv6 || o.detachNetns || o.disableHostLoopback);
});

test('defaultRunOptions copies the command', (t) => {
  const cmd = ['a', 'b'];
  const o = defaultRunOptions(cmd);
  cmd.push('c');
  t.deepEqual(o.command, ['a', 'b']);
});

test('-- separates flags from the command', (t) => {
  const o = run('--pidns', '--', 'ls', '-l', '--pidns');
  t.deepEqual(o.command, ['ls', '-l', '--pidns']);
  t.true(o.pidns);
});

test('without --, the first non-flag starts the command and later flags belong to it', (t) => {
  const o = run('ls', '-l');
  t.deepEqual(o.command, ['ls', '-l']);
  const p = run('--utsns', 'sh', '-c', 'echo hi', '--net=slirp4netns');
  t.deepEqual(p.command, ['sh', '-c', 'echo hi', '--net=slirp4netns']);
  t.is(p.net, 'host');
  t.true(p.utsns);
});

test('a command starting with a dash needs --', (t) => {
  t.deepEqual(run('--', '-weird', 'x').command, ['-weird', 'x']);
  usageError(t, () => run('-weird'), 'unknown flag -weird');
});

test('only the first -- ends the flags', (t) => {
  t.deepEqual(run('--', 'a', '--', 'b').command, ['a', '--', 'b']);
});

test('missing command', (t) => {
  usageError(t, () => run(), 'rootless run: missing command', 'rootless run [flags] -- CMD [ARGS...]');
  usageError(t, () => run('--pidns', '--'), 'missing command');
  usageError(t, () => parseRootlesskitArgv(['--pidns'], capture()), 'rootlesskit: missing command');
});

// ---- flag syntax ------------------------------------------------------------

test('value flags accept --flag=value, --flag value, -flag=value and -flag value', (t) => {
  t.is(run('--net=slirp4netns', 'x').net, 'slirp4netns');
  t.is(run('--net', 'pasta', 'x').net, 'pasta');
  t.is(run('-net=none', 'x').net, 'none');
  t.is(run('-net', 'slirp4netns', 'x').net, 'slirp4netns');
});

test('values may contain = and start with a dash', (t) => {
  // (Not a helper's binary: those must not start with a dash, argv-values.test.ts.)
  const o = run('--net=slirp4netns', '--port-driver=builtin', '-p', '127.0.0.1:8080:80/tcp', '--pidns', '--cgroupns', '--evacuate-cgroup2', '-odd=name', 'x');
  t.is(o.evacuateCgroup2, '-odd=name');
  t.deepEqual(o.publish, ['127.0.0.1:8080:80/tcp']);
});

test('-p and --copy-up are repeatable and keep order', (t) => {
  const o = run(
    '--net=slirp4netns',
    '--port-driver=builtin',
    '-p',
    '8080:80/tcp',
    '--publish=8443:443/tcp',
    '-p=53:53/udp',
    '-p5353:5353/udp',
    '--copy-up=/etc',
    '--copy-up',
    '/run/',
    '-copy-up=/var//lib',
    'x',
  );
  t.deepEqual(o.publish, ['8080:80/tcp', '8443:443/tcp', '53:53/udp', '5353:5353/udp']);
  t.deepEqual(o.copyUp, ['/etc', '/run', '/var/lib']);
});

test('boolean flags: --x, --x=true, --x=false, Go spellings, last one wins', (t) => {
  t.true(run('--pidns', 'x').pidns);
  t.true(run('--pidns=true', 'x').pidns);
  t.false(run('--pidns=false', 'x').pidns);
  t.true(run('-pidns=1', 'x').pidns);
  t.false(run('--pidns=F', 'x').pidns);
  t.false(run('--pidns', '--pidns=false', 'x').pidns);
  t.true(run('--pidns=false', '--pidns', 'x').pidns);
  const o = run('--cgroupns=True', '--utsns=t', '--ipcns=TRUE', '--debug=true', 'x');
  t.true(o.cgroupns && o.utsns && o.ipcns);
  t.is(o.logLevel, 'debug');
  const n = run('--net=slirp4netns', '--ipv6=false', '--disable-host-loopback=0', '--detach-netns=false', 'x');
  t.false(n.ipv6 || n.disableHostLoopback || n.detachNetns);
});

test('a boolean flag does not take the next argument (as in RootlessKit)', (t) => {
  const o = run('--pidns', 'true');
  t.true(o.pidns);
  t.deepEqual(o.command, ['true']);
});

test('a bad boolean value names the flag and value', (t) => {
  usageError(t, () => run('--pidns=maybe', 'x'), 'rootless run: --pidns', '"maybe"');
  usageError(t, () => run('--ipv6=', 'x'), '--ipv6', '""');
});

test('unknown flag: one line naming the flag', (t) => {
  usageError(t, () => run('--foo', 'x'), 'rootless run: unknown flag --foo');
  const e = usageError(t, () => run('--foo=bar', 'x'), 'unknown flag --foo');
  t.false(e.message.includes('bar'));
  usageError(t, () => run('-z', 'x'), 'unknown flag -z');
  usageError(t, () => parseRootlesskitArgv(['--nope', 'x'], capture()), 'rootlesskit: unknown flag --nope');
});

test('missing value for a value flag', (t) => {
  usageError(t, () => run('--net'), 'rootless run: --net: missing value');
  usageError(t, () => run('-p'), '--publish: missing value');
});

test('bad choice: names the flag, the value and the choices', (t) => {
  usageError(t, () => run('--net=vpnkitt', 'x'), 'rootless run: --net: invalid value "vpnkitt" (choose host, none, slirp4netns, pasta)');
  usageError(t, () => run('--port-driver', 'fancy', 'x'), '--port-driver: invalid value "fancy"', 'builtin');
  usageError(t, () => run('--propagation=rwhatever', 'x'), '--propagation', '"rwhatever"', 'rslave');
  usageError(t, () => run('--reaper=yes', 'x'), '--reaper', '"yes"', 'auto, true, false');
  usageError(t, () => run('--slirp4netns-sandbox=on', 'x'), '--slirp4netns-sandbox', '"on"');
  usageError(t, () => run('--subid-source=ldap', 'x'), '--subid-source', '"ldap"');
  usageError(t, () => run('--copy-up-mode=overlay', 'x'), '--copy-up-mode', '"overlay"');
  usageError(t, () => run('--log-level=loud', 'x'), '--log-level', '"loud"');
});

test('choices are accepted', (t) => {
  const o = run(
    '--net=pasta',
    '--port-driver=implicit',
    '--propagation=rslave',
    '--reaper=false',
    '--subid-source=static',
    '--log-level=warn',
    'x',
  );
  t.is(o.net, 'pasta');
  t.is(o.portDriver, 'implicit');
  t.is(o.propagation, 'rslave');
  t.is(o.reaper, 'false');
  t.is(o.subidSource, 'static');
  t.is(o.logLevel, 'warn');
});

test('RootlessKit drivers and flags we lack are rejected with what to use instead', (t) => {
  usageError(t, () => run('--net=vpnkit', 'x'), '--net', '"vpnkit"', 'not supported by rootless', '--net=slirp4netns');
  usageError(t, () => run('--net=lxc-user-nic', 'x'), '"lxc-user-nic"', 'not supported by rootless');
  usageError(t, () => run('--vpnkit-binary=/usr/bin/vpnkit', 'x'), '--vpnkit-binary', 'not supported by rootless', '--net=pasta');
  usageError(t, () => parseRootlesskitArgv(['-lxc-user-nic-bridge', 'br0', 'x'], capture()), 'rootlesskit:', '--lxc-user-nic-bridge', 'not supported');
  usageError(t, () => run('--lxc-user-nic-binary', '/x', 'x'), '--lxc-user-nic-binary', 'not supported');
});

// ---- logging ------------------------------------------------------------------

test('--debug sets logLevel debug; --log-level wins over it', (t) => {
  t.is(run('--debug', 'x').logLevel, 'debug');
  t.is(run('-debug', 'x').logLevel, 'debug');
  t.is(run('--log-level=trace', 'x').logLevel, 'trace');
  t.is(run('--debug', '--log-level=error', 'x').logLevel, 'error');
  t.is(run('--debug=false', 'x').logLevel, 'info');
});

// ---- value validation -----------------------------------------------------------

test('mtu bounds', (t) => {
  t.is(run('--mtu=68', 'x').mtu, 68);
  t.is(run('--mtu=65521', 'x').mtu, 65521);
  t.is(run('--mtu', '1500', 'x').mtu, 1500);
  t.is(run('--mtu=0', 'x').mtu, 65520, '0 is RootlessKit for "driver default"');
  usageError(t, () => run('--mtu=70000', 'x'), 'rootless run: --mtu: 70000 is out of range (68-65521)');
  usageError(t, () => run('--mtu=67', 'x'), '--mtu: 67 is out of range');
  usageError(t, () => run('--mtu=65522', 'x'), '--mtu: 65522 is out of range');
});

test('mtu garbage', (t) => {
  for (const bad of ['1500abc', '1e3', ' 1500', '1500 ', '-1', '+1500', '0x5dc', '15.0', '', 'NaN']) {
    usageError(t, () => run(`--mtu=${bad}`, 'x'), '--mtu', JSON.stringify(bad));
  }
});

test('validateRunOptions rejects a non-integer or out-of-range mtu', (t) => {
  usageError(t, () => validateRunOptions(opts({ mtu: 1500.5 })), '--mtu', '1500.5');
  usageError(t, () => validateRunOptions(opts({ mtu: 0 })), '--mtu: 0 is out of range');
});

test('cidr validation and normalization', (t) => {
  t.is(run('--net=slirp4netns', '--cidr=10.0.2.0/24', 'x').cidr, '10.0.2.0/24');
  t.is(run('--net=slirp4netns', '--cidr=10.0.2.100/24', 'x').cidr, '10.0.2.0/24');
  t.is(run('--net=pasta', '--cidr', '192.168.77.200/25', 'x').cidr, '192.168.77.128/25');
  t.is(run('--net=slirp4netns', '--cidr=10.255.255.255/8', 'x').cidr, '10.0.0.0/8');
  t.is(run('--net=slirp4netns', '--cidr=172.16.5.9/16', 'x').cidr, '172.16.0.0/16');
  const bad: Array<[string, string]> = [
    ['10.0.2.0', 'not an IPv4 CIDR'],
    ['10.0.2/24', 'not an IPv4 CIDR'],
    ['10.0.2.0/', 'not an IPv4 CIDR'],
    ['256.0.2.0/24', 'invalid octet'],
    ['10.0.02.0/24', 'invalid octet'],
    ['10.0.2.0/26', 'prefix length /26 is out of range'],
    ['10.0.2.0/30', 'out of range'],
    ['10.0.0.0/7', 'out of range'],
    ['10.0.0.0/33', 'out of range'],
    ['fd00::/64', 'not an IPv4 CIDR'],
    [' 10.0.2.0/24', 'not an IPv4 CIDR'],
  ];
  for (const [cidr, why] of bad) {
    usageError(t, () => run('--net=slirp4netns', `--cidr=${cidr}`, 'x'), '--cidr', JSON.stringify(cidr), why);
  }
});

test('cidr is rejected without a user-mode network', (t) => {
  usageError(t, () => run('--cidr=10.0.3.0/24', 'x'), '--cidr=10.0.3.0/24', '--net=host');
  usageError(t, () => run('--net=none', '--cidr=10.0.3.0/24', 'x'), '--net=none');
});

test('ifname validation', (t) => {
  t.is(run('--net=slirp4netns', '--ifname=eth0', 'x').ifname, 'eth0');
  t.is(run('--net=slirp4netns', '--ifname', 'a23456789012345', 'x').ifname, 'a23456789012345');
  usageError(t, () => run('--ifname=a234567890123456', 'x'), '--ifname', '"a234567890123456"', 'too long');
  usageError(t, () => run('--ifname=éééééééé', 'x'), '--ifname', 'too long (16 bytes');
  usageError(t, () => run('--ifname=tap/0', 'x'), '--ifname', '"tap/0"', "'/'");
  usageError(t, () => run('--ifname', 'tap 0', 'x'), '--ifname', '"tap 0"', 'whitespace');
  usageError(t, () => run('--ifname=tap\t0', 'x'), '--ifname', 'whitespace');
  usageError(t, () => run('--ifname=tap:0', 'x'), '--ifname', "':'");
  usageError(t, () => run('--ifname=tap%d', 'x'), '--ifname', "'%'");
  usageError(t, () => run('--ifname=.', 'x'), '--ifname', '"."');
  usageError(t, () => run('--ifname=..', 'x'), '--ifname', '".."');
  usageError(t, () => run('--ifname=', 'x'), '--ifname', 'empty');
});

test('--state-dir must be absolute; it is normalized; / is rejected', (t) => {
  t.is(run('--state-dir=/run/user/1000/x/', 'x').stateDir, '/run/user/1000/x');
  t.is(run('--state-dir', '/tmp//a/./b/../c', 'x').stateDir, '/tmp/a/c');
  usageError(t, () => run('--state-dir=relative/dir', 'x'), '--state-dir', '"relative/dir"', 'not an absolute path');
  usageError(t, () => run('--state-dir=/', 'x'), '--state-dir', '"/"', 'root directory');
  usageError(t, () => run('--state-dir=/a/..', 'x'), '--state-dir', '"/a/.."');
  usageError(t, () => run('--state-dir=', 'x'), '--state-dir', 'empty');
  t.is(validateRunOptions(opts({ stateDir: '/x//y/' })).stateDir, '/x/y');
});

test('--copy-up: absolute, not /, normalized, no duplicates', (t) => {
  t.deepEqual(run('--copy-up=/etc/', '--copy-up=/usr/./local', 'x').copyUp, ['/etc', '/usr/local']);
  usageError(t, () => run('--copy-up=etc', 'x'), '--copy-up', '"etc"', 'not an absolute path');
  usageError(t, () => run('--copy-up=/', 'x'), '--copy-up', '"/"');
  usageError(t, () => run('--copy-up=//', 'x'), '--copy-up', '"//"');
  usageError(t, () => run('--copy-up=/etc', '--copy-up=/etc/', 'x'), '--copy-up', '"/etc" is given twice');
  usageError(t, () => run('--copy-up=/run', '--copy-up=/var/../run', 'x'), '"/run" is given twice', '"/var/../run"');
});

test('--name: session name syntax', (t) => {
  t.is(run('--name=docker-1.x_y', 'x').name, 'docker-1.x_y');
  t.is(run('--name', 'a'.repeat(64), 'x').name, 'a'.repeat(64));
  usageError(t, () => run(`--name=${'a'.repeat(65)}`, 'x'), '--name');
  usageError(t, () => run('--name=-dash', 'x'), '--name', '"-dash"');
  usageError(t, () => run('--name=.hidden', 'x'), '--name', '".hidden"');
  usageError(t, () => run('--name=a/b', 'x'), '--name', '"a/b"');
  usageError(t, () => run('--name=', 'x'), '--name', '""');
});

test('--evacuate-cgroup2 value syntax', (t) => {
  usageError(t, () => run('--pidns', '--cgroupns', '--evacuate-cgroup2=../x', 'x'), '--evacuate-cgroup2', '"../x"');
  usageError(t, () => run('--pidns', '--cgroupns', '--evacuate-cgroup2=/abs', 'x'), '--evacuate-cgroup2', '"/abs"');
  usageError(t, () => run('--pidns', '--cgroupns', '--evacuate-cgroup2=', 'x'), '--evacuate-cgroup2', '""');
});

test('binary paths must not be empty', (t) => {
  usageError(t, () => run('--slirp4netns-binary=', 'x'), '--slirp4netns-binary');
  usageError(t, () => run('--pasta-binary=', 'x'), '--pasta-binary');
  t.is(run('--net=pasta', '--pasta-binary=/opt/pasta', 'x').pastaBinary, '/opt/pasta');
});

// ---- cross-flag rules -------------------------------------------------------------

test('--disable-host-loopback, --ipv6, --detach-netns need a network namespace', (t) => {
  for (const flag of ['--disable-host-loopback', '--ipv6', '--detach-netns']) {
    usageError(t, () => run(flag, 'x'), `rootless run: ${flag}`, '--net=host');
    usageError(t, () => run('--net=host', `${flag}=true`, 'x'), flag, '--net=host');
    const o = run('--net=slirp4netns', flag, 'x');
    t.is(o.net, 'slirp4netns');
  }
  t.true(run('--net=pasta', '--ipv6', 'x').ipv6);
  t.true(run('--net=none', '--detach-netns', 'x').detachNetns);
});

test('--port-driver=slirp4netns requires --net=slirp4netns', (t) => {
  usageError(t, () => run('--net=pasta', '--port-driver=slirp4netns', 'x'), '--port-driver=slirp4netns', '--net=slirp4netns', '--net=pasta');
  usageError(t, () => run('--port-driver=slirp4netns', 'x'), '--port-driver=slirp4netns', '--net=host');
  t.is(run('--net=slirp4netns', '--port-driver=slirp4netns', 'x').portDriver, 'slirp4netns');
});

test('--port-driver=implicit requires --net=pasta', (t) => {
  usageError(t, () => run('--net=slirp4netns', '--port-driver=implicit', 'x'), '--port-driver=implicit', '--net=pasta', '--net=slirp4netns');
  t.is(run('--net=pasta', '--port-driver=implicit', '-p', '8080:80/tcp', 'x').portDriver, 'implicit');
});

test('--port-driver=builtin requires a network namespace', (t) => {
  usageError(t, () => run('--port-driver=builtin', 'x'), '--port-driver=builtin', '--net=host');
  t.is(run('--net=none', '--port-driver=builtin', 'x').portDriver, 'builtin');
  t.is(run('--net=pasta', '--port-driver=builtin', 'x').portDriver, 'builtin');
});

test('-p needs a port driver', (t) => {
  usageError(t, () => run('--net=slirp4netns', '-p', '8080:80/tcp', 'x'), '--publish', '"8080:80/tcp"', '--port-driver=none');
  usageError(t, () => run('-p', '8080:80/tcp', '--port-driver=none', 'x'), '--port-driver');
});

test('--reaper=true requires --pidns', (t) => {
  usageError(t, () => run('--reaper=true', 'x'), '--reaper=true', '--pidns');
  t.is(run('--pidns', '--reaper=true', 'x').reaper, 'true');
  t.is(run('--reaper=false', 'x').reaper, 'false');
});

test('--evacuate-cgroup2 requires --pidns and --cgroupns', (t) => {
  usageError(t, () => run('--evacuate-cgroup2=evac', 'x'), '--evacuate-cgroup2=evac', 'missing --pidns and --cgroupns');
  usageError(t, () => run('--pidns', '--evacuate-cgroup2=evac', 'x'), 'missing --cgroupns');
  usageError(t, () => run('--cgroupns', '--evacuate-cgroup2=evac', 'x'), 'missing --pidns');
  t.is(run('--pidns', '--cgroupns', '--evacuate-cgroup2=evac', 'x').evacuateCgroup2, 'evac');
});

test('--copy-up cannot be used with shared propagation', (t) => {
  usageError(t, () => run('--copy-up=/etc', '--propagation=rshared', 'x'), '--propagation=rshared', '--copy-up');
  t.is(run('--propagation=rshared', 'x').propagation, 'rshared');
  t.is(run('--copy-up=/etc', '--propagation=rslave', 'x').propagation, 'rslave');
});

test('--slirp4netns-sandbox/--slirp4netns-seccomp are accepted with other drivers', (t) => {
  const o = run('--slirp4netns-sandbox=true', '--slirp4netns-seccomp=false', 'x');
  t.is(o.net, 'host');
  t.is(o.slirp4netnsSandbox, 'true');
  t.is(o.slirp4netnsSeccomp, 'false');
});

test('validateRunOptions: empty command, bad enum from code, normalizes a copy', (t) => {
  usageError(t, () => validateRunOptions(opts({ command: [] })), 'missing command');
  usageError(t, () => validateRunOptions(opts({ net: 'vde' as RunOptions['net'] })), '--net', '"vde"');
  const input = opts({ copyUp: ['/etc/'], cidr: '10.0.2.9/24', net: 'slirp4netns' });
  const out = validateRunOptions(input);
  t.deepEqual(out.copyUp, ['/etc']);
  t.is(out.cidr, '10.0.2.0/24');
  t.deepEqual(input.copyUp, ['/etc/'], 'input not mutated');
  t.not(out, input);
});

// ---- RootlessKit compatibility -----------------------------------------------------

test('parseRootlesskitArgv with the argument list of dockerd-rootless.sh', (t) => {
  const argv = [
    '--state-dir=/run/user/1000/dockerd-rootless',
    '--net=slirp4netns',
    '--mtu=65520',
    '--slirp4netns-sandbox=auto',
    '--slirp4netns-seccomp=auto',
    '--disable-host-loopback',
    '--port-driver=builtin',
    '--copy-up=/etc',
    '--copy-up=/run',
    '--propagation=rslave',
    '/usr/bin/dockerd-rootless.sh',
    '--foo',
  ];
  const o = parseRootlesskitArgv(argv, capture());
  t.deepEqual(o.command, ['/usr/bin/dockerd-rootless.sh', '--foo']);
  t.is(o.stateDir, '/run/user/1000/dockerd-rootless');
  t.is(o.net, 'slirp4netns');
  t.is(o.mtu, 65520);
  t.is(o.slirp4netnsSandbox, 'auto');
  t.is(o.slirp4netnsSeccomp, 'auto');
  t.true(o.disableHostLoopback);
  t.is(o.portDriver, 'builtin');
  t.deepEqual(o.copyUp, ['/etc', '/run']);
  t.is(o.propagation, 'rslave');
  t.false(o.pidns);
  t.is(o.logLevel, 'info');
});

test('parseRootlesskitArgv: pasta with implicit ports and detached netns (RootlessKit 2)', (t) => {
  const o = parseRootlesskitArgv(
    ['--net=pasta', '--port-driver=implicit', '--detach-netns', '--pasta-binary', '/usr/bin/pasta', '--subid-source=dynamic', 'dockerd'],
    capture(),
  );
  t.is(o.net, 'pasta');
  t.is(o.portDriver, 'implicit');
  t.true(o.detachNetns);
  t.is(o.pastaBinary, '/usr/bin/pasta');
  t.is(o.subidSource, 'dynamic');
  t.deepEqual(o.command, ['dockerd']);
});

test('parseRootlesskitArgv: single-dash long flags', (t) => {
  const o = parseRootlesskitArgv(['-net=slirp4netns', '-debug', '-pidns', '-copy-up', '/etc', 'bash'], capture());
  t.is(o.net, 'slirp4netns');
  t.is(o.logLevel, 'debug');
  t.true(o.pidns);
  t.deepEqual(o.copyUp, ['/etc']);
  t.deepEqual(o.command, ['bash']);
});

test('rootlesskit --version and rootless --version print the package version', (t) => {
  const c = capture();
  const e = t.throws(() => parseRootlesskitArgv(['--version'], c), { instanceOf: CliExit }) as CliExit;
  t.is(e.exitCode, 0);
  t.regex(c.out, /^rootlesskit version \d+\.\d+\.\d+/);
  const d = capture();
  t.throws(() => parseArgv(['-v'], d), { instanceOf: CliExit });
  t.regex(d.out, /^rootless version \d+\.\d+\.\d+\n$/);
  for (const argv of [['run', '--version'], ['run', '-v', 'true']]) {
    const r = capture();
    t.throws(() => parseArgv(argv, r), { instanceOf: CliExit });
    t.is(r.out, d.out, argv.join(' '));
  }
  const r = capture();
  t.throws(() => parseRunArgv(['--version'], r), { instanceOf: CliExit });
  t.is(r.out, d.out, 'the fast path prints the same');
});

test('invokedAsRootlesskit', (t) => {
  t.true(invokedAsRootlesskit('/usr/local/bin/rootlesskit'));
  t.true(invokedAsRootlesskit('rootlesskit'));
  t.false(invokedAsRootlesskit('/usr/bin/rootless'));
  t.false(invokedAsRootlesskit('/usr/bin/rootlesskit-docker-proxy'));
});

// ---- help -----------------------------------------------------------------------------

test('rootless run --help lists flags in groups and exits 0', (t) => {
  const c = capture();
  const e = t.throws(() => parseRunArgv(['--help'], c), { instanceOf: CliExit }) as CliExit;
  t.is(e.exitCode, 0);
  t.true(c.out.includes('Usage: rootless run [flags] -- CMD [ARGS...]'));
  const groups = ['Mount:', 'Network:', 'Network [slirp4netns]:', 'Network [pasta]:', 'Port:', 'Process:', 'State:', 'SubID:', 'Logging:'];
  let last = -1;
  for (const g of groups) {
    const at = c.out.indexOf(`\n${g}\n`);
    t.true(at > last, `group ${g} present and in order`);
    last = at;
  }
  const network = c.out.slice(c.out.indexOf('\nNetwork:\n'), c.out.indexOf('\nNetwork [slirp4netns]:\n'));
  t.true(network.includes('--net <driver>'));
  t.true(network.includes('--disable-host-loopback'));
  t.false(network.includes('--pidns'));
  t.true(c.out.includes('-p, --publish <spec>'));
  t.is(c.err, '');
});

test('-h anywhere before the command shows help; after the command it belongs to the command', (t) => {
  const c = capture();
  t.throws(() => parseRunArgv(['--pidns', '-h', 'ls'], c), { instanceOf: CliExit });
  t.true(c.out.includes('Process:'));
  t.deepEqual(run('ls', '--help').command, ['ls', '--help']);
});

test('rootless --help lists the subcommands; no subcommand shows help on stderr with exit 2', (t) => {
  const c = capture();
  t.throws(() => parseArgv(['--help'], c), { instanceOf: CliExit });
  for (const name of ['run', 'exec', 'ps', 'info', 'ports', 'ctl']) t.regex(c.out, new RegExp(`\\n  ${name}\\b`));
  const d = capture();
  const e = t.throws(() => parseArgv([], d), { instanceOf: CliExit }) as CliExit;
  t.is(e.exitCode, 2);
  t.true(d.err.includes('Usage: rootless'));
});

// ---- the program ----------------------------------------------------------------------

test('parseArgv dispatches run with validated options', (t) => {
  const p = parseArgv(['run', '--net=slirp4netns', '--pidns=true', 'ls', '-l'], capture());
  t.is(p.kind, 'run');
  if (p.kind !== 'run') return;
  t.deepEqual(p.options.command, ['ls', '-l']);
  t.true(p.options.pidns);
  t.is(p.options.net, 'slirp4netns');
});

test('parseArgv passes other subcommands their argv untouched', (t) => {
  t.deepEqual(parseArgv(['exec', '--name', 'x', '--', 'sh', '-c', 'id'], capture()), {
    kind: 'exec',
    argv: ['--name', 'x', '--', 'sh', '-c', 'id'],
  });
  t.deepEqual(parseArgv(['ps'], capture()), { kind: 'ps', argv: [] });
  t.deepEqual(parseArgv(['ctl', 'list-ports', '--json'], capture()), { kind: 'ctl', argv: ['list-ports', '--json'] });
  t.deepEqual(parseArgv(['ports', '--help'], capture()), { kind: 'ports', argv: ['--help'] });
  t.deepEqual(parseArgv(['info', '-x'], capture()), { kind: 'info', argv: ['-x'] });
});

test('parseArgv: errors are one-line and prefixed', (t) => {
  usageError(t, () => parseArgv(['run', '--nett=host', 'x'], capture()), 'rootless run: unknown flag --nett');
  usageError(t, () => parseArgv(['run', '--mtu=9x', 'x'], capture()), 'rootless run: --mtu: "9x"');
  usageError(t, () => parseArgv(['run', '--reaper=true', 'x'], capture()), 'rootless run: --reaper=true requires --pidns');
  usageError(t, () => parseArgv(['run'], capture()), 'rootless run: missing command');
  usageError(t, () => parseArgv(['frobnicate'], capture()), 'rootless: unknown command "frobnicate"');
  usageError(t, () => parseArgv(['--pidns', 'run', 'x'], capture()), 'rootless: unknown flag --pidns');
});

test('buildProgram calls the injected handlers (async)', async (t) => {
  const calls: Array<[string, unknown]> = [];
  const handlers: ProgramHandlers = {
    run: async (o) => {
      await Promise.resolve();
      calls.push(['run', o.command]);
    },
    exec: (a) => void calls.push(['exec', a]),
    ps: (a) => void calls.push(['ps', a]),
    info: (a) => void calls.push(['info', a]),
    ports: (a) => void calls.push(['ports', a]),
    ctl: (a) => void calls.push(['ctl', a]),
    doctor: (a) => void calls.push(['doctor', a]),
    completion: (a) => void calls.push(['completion', a]),
  };
  await buildProgram(handlers, { output: capture() }).parseAsync(['node', 'rootless', 'run', '--', 'echo', 'hi']);
  await buildProgram(handlers, { output: capture() }).parseAsync(['ps', '-a'], { from: 'user' });
  await buildProgram(handlers, { output: capture() }).parseAsync(['doctor', '--json'], { from: 'user' });
  t.deepEqual(calls, [
    ['run', ['echo', 'hi']],
    ['ps', ['-a']],
    ['doctor', ['--json']],
  ]);
  await t.throwsAsync(buildProgram(handlers, { output: capture() }).parseAsync(['run', '--bogus', 'x'], { from: 'user' }), {
    instanceOf: UsageError,
    message: 'rootless run: unknown flag --bogus',
  });
  t.is(calls.length, 3, 'handler not called on a usage error');
});

test('handler errors propagate unchanged', async (t) => {
  const boom = new Error('boom');
  const handlers: ProgramHandlers = {
    run: () => {
      throw boom;
    },
    exec: () => undefined,
    ps: () => undefined,
    info: () => undefined,
    ports: () => undefined,
    ctl: () => undefined,
    doctor: () => undefined,
    completion: () => undefined,
  };
  const err = await t.throwsAsync(buildProgram(handlers, { output: capture() }).parseAsync(['run', 'x'], { from: 'user' }));
  t.is(err, boom);
});
