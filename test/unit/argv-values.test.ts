// Every value a user passes that reaches a helper's argv (slirp4netns,
// pasta, newuidmap/newgidmap) is validated by the flag parser: one line
// naming the flag and the value, exit 2. Then, for every accepted value,
// the helpers' argv built from it has no user value that an option parser
// could take for an option. Also: long values are cut in errors, and the
// top-level flags are all checked before --version or --help act.
import test from 'ava';
import { ExitCode, UsageError, quoteValue } from '../../src/sys/errors.js';
import { parseRunFlags } from '../../src/cli/flags.js';
import { checkTopLevelFlags } from '../../src/cli/program.js';
import type { RunOptions } from '../../src/cli/options.js';
import { slirp4netnsArgs } from '../../src/net/slirp4netns/parent.js';
import { pastaArgs } from '../../src/net/pasta/parent.js';
import { PASTA, SLIRP } from '../helpers/helper-features.js';

const parse = (...argv: string[]): RunOptions => parseRunFlags([...argv, '--', 'true'], 'run') as RunOptions;

function refused(t: import('ava').ExecutionContext, argv: string[], flag: string, why: RegExp): void {
  const err = t.throws(() => parse(...argv), { instanceOf: UsageError }, argv.join(' ')) as UsageError;
  t.is(err.exitCode, ExitCode.Usage);
  t.false(err.message.includes('\n'), 'one line');
  t.true(err.message.startsWith(`rootless run: ${flag}`), `${argv.join(' ')}: ${err.message}`);
  t.regex(err.message, why, argv.join(' '));
}

// [value, accepted?, why refused]
const IFNAMES: [string, boolean, RegExp?][] = [
  ['tap0', true],
  ['eth0.100', true],
  ['a23456789012345', true],
  ['x-y_z', true],
  ['--help', false, /must not start with '-'/],
  ['-v', false, /must not start with '-'/],
  ['-', false, /must not start with '-'/],
  ['', false, /empty/],
  ['.', false, /not a valid interface name/],
  ['..', false, /not a valid interface name/],
  ['a234567890123456', false, /too long/],
  ['tap/0', false, /'\/'/],
  ['tap:0', false, /':'/],
  ['tap 0', false, /whitespace/],
  ['tap\n0', false, /whitespace/],
  ['tap\t0', false, /whitespace/],
  ['tap%d', false, /'%'/],
];

test('--ifname: the kernel\'s dev_valid_name rules and no leading dash', (t) => {
  for (const [v, ok, why] of IFNAMES) {
    if (ok) t.is(parse('--net=slirp4netns', `--ifname=${v}`).ifname, v);
    else refused(t, ['--net=slirp4netns', `--ifname=${v}`], '--ifname', why!);
  }
});

const BINARIES: [string, boolean, RegExp?][] = [
  ['slirp4netns', true],
  ['/usr/local/bin/slirp4netns', true],
  ['./bin/pasta', true],
  ['--help', false, /not a valid program name or path/],
  ['-x', false, /not a valid program name or path/],
  ['', false, /empty/],
  ['a\nb', false, /not a valid program name or path/],
  ['a\u0007b', false, /not a valid program name or path/],
];

test('--slirp4netns-binary and --pasta-binary: no leading dash, no control characters', (t) => {
  for (const flag of ['--slirp4netns-binary', '--pasta-binary']) {
    for (const [v, ok, why] of BINARIES) {
      if (ok) t.notThrows(() => parse(`${flag}=${v}`));
      else refused(t, [`${flag}=${v}`], flag, why!);
    }
  }
});

test('the other values that reach a helper\'s argv are refused when malformed', (t) => {
  const cases: [string[], string, RegExp][] = [
    [['--net=slirp4netns', '--mtu=-1'], '--mtu', /not an integer/],
    [['--net=slirp4netns', '--mtu=--help'], '--mtu', /not an integer/],
    [['--net=slirp4netns', '--cidr=--help'], '--cidr', /not an IPv4 CIDR/],
    [['--net=slirp4netns', '--cidr=-10.0.2.0/24'], '--cidr', /not an IPv4 CIDR/],
    [['--state-dir=--help'], '--state-dir', /not an absolute path/],
    [['--state-dir=-x'], '--state-dir', /not an absolute path/],
    [['--copy-up=--help'], '--copy-up', /not an absolute path/],
    [['--net=pasta', '--port-driver=implicit', '-p', '--help'], '--publish', /invalid port spec/],
    [['--net=pasta', '--port-driver=implicit', '-p', '-1:80'], '--publish', /invalid port spec/],
    [['--net=slirp4netns', '--slirp4netns-sandbox=--help'], '--slirp4netns-sandbox', /invalid value/],
    [['--net=slirp4netns', '--slirp4netns-seccomp=-x'], '--slirp4netns-seccomp', /invalid value/],
    [['--subid-source=--help'], '--subid-source', /invalid value/],
  ];
  for (const [argv, flag, why] of cases) refused(t, argv, flag, why);
});

test('helper argv built from accepted values: every value after an option name is not an option', (t) => {
  // The option names rootless itself puts in, with how many values follow each.
  const slirpOptions = new Map([['--mtu', 1], ['--api-socket', 1], ['--cidr', 1], ['--netns-type=path', 1]]);
  const pastaOptions = new Map([['--ns-ifname', 1], ['--mtu', 1], ['--address', 1], ['--netmask', 1], ['--gateway', 1], ['--dns-forward', 1],
    ['--pid', 1], ['--tcp-ports', 1], ['--udp-ports', 1], ['--tcp-ns', 1], ['--udp-ns', 1], ['--userns', 1], ['--netns', 1]]);
  const check = (argv: string[], known: Map<string, number>, what: string): void => {
    for (let i = 1; i < argv.length; i++) {
      const a = argv[i]!;
      if (a.startsWith('-')) {
        t.true(a.startsWith('--'), `${what}: ${a} is one of ours`);
        const n = known.get(a) ?? 0;
        for (let j = 1; j <= n; j++) t.false(argv[i + j]!.startsWith('-'), `${what}: the value of ${a}: ${argv[i + j]}`);
        i += n;
      } else {
        t.false(a.startsWith('-'), `${what}: operand ${a}`);
      }
    }
  };
  for (const [ifname, ok] of IFNAMES) {
    if (!ok) continue;
    for (const extra of [[], ['--cidr=10.1.0.0/16', '--mtu=1500', '--disable-host-loopback']]) {
      const s = parse('--net=slirp4netns', `--ifname=${ifname}`, ...extra);
      check(slirp4netnsArgs({ opts: s, features: SLIRP, file: '/usr/bin/slirp4netns', childPid: 42, stateDir: '/run/s', apiSocket: '/run/s/slirp4netns.sock', seccompKernel: true }), slirpOptions, `slirp4netns ${ifname}`);
      const p = parse('--net=pasta', '--port-driver=implicit', `--ifname=${ifname}`, '-p', '127.0.0.1:8080:80/tcp', ...extra);
      check(pastaArgs({ opts: p, features: PASTA, file: '/usr/bin/pasta', childPid: 42, stateDir: '/run/s', pidFile: '/run/s/pasta.pid' }), pastaOptions, `pasta ${ifname}`);
    }
  }
});

test('a long bad value is cut in the error, everywhere values are echoed', (t) => {
  const big = 'x'.repeat(100_000);
  t.is(quoteValue('short'), '"short"');
  t.is(quoteValue(big), `"${'x'.repeat(80)}"… (100000 characters)`);
  for (const argv of [[`--net=${big}`], [`--ifname=${big}`], ['-p', big], [`--cidr=${big}`], [`--mtu=${big}`], [`--${big}`], [`--state-dir=${big}`], [`--pidns=${big}`]]) {
    const err = t.throws(() => parse('--net=slirp4netns', ...argv), { instanceOf: UsageError }) as UsageError;
    t.true(err.message.length < 400, `${argv[0]!.slice(0, 12)}: ${err.message.length} characters`);
    t.regex(err.message, /… \(\d+ characters\)/);
  }
});

test('top-level flags: all are checked before --version or --help act', (t) => {
  const refusedTop = (argv: string[], re: RegExp): void => {
    const err = t.throws(() => checkTopLevelFlags(argv), { instanceOf: UsageError }) as UsageError;
    t.is(err.exitCode, ExitCode.Usage);
    t.regex(err.message, re);
  };
  refusedTop(['--version', '--bogus'], /^rootless: unknown flag --bogus$/);
  refusedTop(['--bogus', '--version'], /^rootless: unknown flag --bogus$/);
  refusedTop(['--bogus', '--help'], /^rootless: unknown flag --bogus$/);
  refusedTop(['-v', 'run'], /^rootless: --version takes no other argument \(got "run"\)$/);
  t.notThrows(() => checkTopLevelFlags(['--version']));
  t.notThrows(() => checkTopLevelFlags(['-v']));
  t.notThrows(() => checkTopLevelFlags(['--help']));
  t.notThrows(() => checkTopLevelFlags(['run', '--version', '--bogus']));
});
