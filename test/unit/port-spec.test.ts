import test from 'ava';
import { ExitCode, UsageError } from '../../src/sys/errors.js';
import { defaultRunOptions, validateRunOptions } from '../../src/cli/options.js';
import { planLaunch } from '../../src/cli/plan.js';
import {
  PortRequestError,
  PortSpecError,
  findConflict,
  formatPortSpec,
  isIPv4,
  isIPv6,
  parsePortSpec,
  parsePublishFlags,
  specJSON,
  validatePortSpec,
  type PortSpec,
} from '../../src/port/spec.js';

const good: [string, PortSpec][] = [
  ['127.0.0.1:8080:80/tcp', { proto: 'tcp', parentIP: '127.0.0.1', parentPort: 8080, childPort: 80 }],
  ['8080:80/tcp', { proto: 'tcp', parentIP: '', parentPort: 8080, childPort: 80 }],
  ['8080:80', { proto: 'tcp', parentIP: '', parentPort: 8080, childPort: 80 }],
  [':8080:80/udp', { proto: 'udp', parentIP: '', parentPort: 8080, childPort: 80 }],
  ['0.0.0.0:53:53/udp4', { proto: 'udp4', parentIP: '0.0.0.0', parentPort: 53, childPort: 53 }],
  ['127.0.0.1:8080:10.0.2.100:80/tcp', { proto: 'tcp', parentIP: '127.0.0.1', parentPort: 8080, childIP: '10.0.2.100', childPort: 80 }],
  ['8080:10.0.2.100:80/tcp', { proto: 'tcp', parentIP: '', parentPort: 8080, childIP: '10.0.2.100', childPort: 80 }],
  ['[::1]:8080:80/tcp', { proto: 'tcp', parentIP: '::1', parentPort: 8080, childPort: 80 }],
  ['[::1]:8080:80/tcp6', { proto: 'tcp6', parentIP: '::1', parentPort: 8080, childPort: 80 }],
  ['[::1]:8080:[::2]:80/udp', { proto: 'udp', parentIP: '::1', parentPort: 8080, childIP: '::2', childPort: 80 }],
  ['[::]:1:65535/udp6', { proto: 'udp6', parentIP: '::', parentPort: 1, childPort: 65535 }],
  ['[fe80::1:2]:80:[::ffff:10.0.0.1]:80/tcp', { proto: 'tcp', parentIP: 'fe80::1:2', parentPort: 80, childIP: '::ffff:10.0.0.1', childPort: 80 }],
  ['1.2.3.4:9:9/sctp', { proto: 'sctp', parentIP: '1.2.3.4', parentPort: 9, childPort: 9 }],
];

for (const [text, expected] of good) {
  test(`parsePortSpec ${text}`, (t) => {
    t.deepEqual(parsePortSpec(text), expected);
  });
}

const bad: [string, RegExp][] = [
  ['', /empty/],
  ['bad', /expected/],
  ['8080', /expected/],
  ['8080:80/xyz', /unknown proto "xyz"/],
  ['8080:80/TCP', /unknown proto/],
  ['0:80/tcp', /parent port 0 is outside 1-65535/],
  ['8080:65536/tcp', /child port 65536 is outside 1-65535/],
  ['99999999:80/tcp', /not a number/],
  ['8080:-1/tcp', /child port "-1" is not a number/],
  ['8080:8x/tcp', /not a number/],
  ['::1:8080:80/tcp', /IPv6 addresses must be in brackets/],
  ['300.0.0.1:8080:80/tcp', /parent IP "300.0.0.1" is not an IP address/],
  ['localhost:8080:80/tcp', /not an IP address/],
  ['[127.0.0.1]:8080:80/tcp', /not an IPv6 address/],
  ['[::1:8080:80/tcp', /missing "]"/],
  ['[::1]x:8080:80/tcp', /unexpected text/],
  ['127.0.0.1:8080:80/tcp,127.0.0.1:4040:40/tcp', /one port spec per/],
  ['127.0.0.1:8080:80/tcp6', /IPv4, but proto tcp6 is IPv6 only/],
  ['[::1]:8080:80/udp4', /IPv6, but proto udp4 is IPv4 only/],
  ['1.2.3.4:1:2:3:4/tcp', /expected|brackets/],
];

for (const [text, re] of bad) {
  test(`parsePortSpec rejects ${JSON.stringify(text)}`, (t) => {
    const err = t.throws(() => parsePortSpec(text), { instanceOf: PortSpecError }) as PortSpecError;
    t.true(err instanceof UsageError);
    t.is(err.exitCode, ExitCode.Usage);
    t.regex(err.message, re);
    t.true(err.message.includes(JSON.stringify(text)), 'names the spec');
    t.false(err.message.includes('\n'));
  });
}

test('address checks', (t) => {
  for (const a of ['0.0.0.0', '127.0.0.1', '255.255.255.255', '10.0.2.100']) t.true(isIPv4(a), a);
  for (const a of ['01.2.3.4', '1.2.3', '1.2.3.4.5', '256.1.1.1', '', 'a.b.c.d']) t.false(isIPv4(a), a);
  for (const a of ['::', '::1', 'fe80::1', '1:2:3:4:5:6:7:8', '1::8', '::ffff:1.2.3.4', '2001:db8::1:0:0:1']) t.true(isIPv6(a), a);
  for (const a of [':', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7::8', '::1.2.3', '1.2.3.4']) t.false(isIPv6(a), a);
});

test('formatPortSpec round-trips', (t) => {
  for (const [text] of good) {
    const s = parsePortSpec(text);
    t.deepEqual(parsePortSpec(formatPortSpec(s)), s);
  }
  t.is(formatPortSpec(parsePortSpec('[::1]:8080:80')), '[::1]:8080:80/tcp');
});

test('validatePortSpec takes RootlessKit JSON and answers with its messages', (t) => {
  t.deepEqual(validatePortSpec({ proto: 'tcp', parentIP: '127.0.0.1', parentPort: 8080, childPort: 80 }), {
    proto: 'tcp', parentIP: '127.0.0.1', parentPort: 8080, childPort: 80,
  });
  t.deepEqual(validatePortSpec({ proto: 'udp', parentPort: 53, childPort: 53, childIP: '10.0.2.100' }), {
    proto: 'udp', parentIP: '', parentPort: 53, childIP: '10.0.2.100', childPort: 53,
  });
  const msg = (body: unknown): string => (t.throws(() => validatePortSpec(body), { instanceOf: PortRequestError }) as Error).message;
  t.is(msg({ proto: 'xx', parentPort: 1, childPort: 1 }), 'unknown proto: "xx"');
  t.is(msg({ parentPort: 1, childPort: 1 }), 'unknown proto: ""');
  t.is(msg({ proto: 'tcp', parentPort: 0, childPort: 1 }), 'invalid ParentPort: 0');
  t.is(msg({ proto: 'tcp', parentPort: 1, childPort: 70000 }), 'invalid ChildPort: 70000');
  t.is(msg({ proto: 'tcp', parentIP: 'nope', parentPort: 1, childPort: 1 }), 'invalid ParentIP: "nope"');
  t.is(msg({ proto: 'tcp', childIP: '1.2.3', parentPort: 1, childPort: 1 }), 'invalid ChildIP: "1.2.3"');
  t.regex(msg({ proto: 'tcp', parentPort: '80', childPort: 1 }), /parentPort must be an integer/);
  t.regex(msg({ proto: 'tcp', parentPort: 1.5, childPort: 1 }), /parentPort must be an integer/);
  t.regex(msg([]), /object/);
  t.regex(msg(null), /object/);
});

test('findConflict: same proto and parent address only', (t) => {
  const existing = [
    { id: 1, spec: parsePortSpec('80:80/tcp') },
    { id: 2, spec: parsePortSpec('10.10.10.10:8080:8080/tcp') },
  ];
  t.is(findConflict(parsePortSpec('80:90/tcp'), existing)?.id, 1);
  t.is(findConflict(parsePortSpec('10.10.10.10:8080:1/tcp'), existing)?.id, 2);
  t.is(findConflict(parsePortSpec('80:80/udp'), existing), undefined);
  t.is(findConflict(parsePortSpec('10.10.10.11:8080:8080/tcp'), existing), undefined);
  t.is(findConflict(parsePortSpec('10.10.10.10:8081:8080/tcp'), existing), undefined);
});

test('specJSON omits empty addresses, as RootlessKit does', (t) => {
  t.deepEqual(specJSON(parsePortSpec('8080:80/udp')), { proto: 'udp', parentPort: 8080, childPort: 80 });
  t.deepEqual(JSON.stringify(specJSON(parsePortSpec('127.0.0.1:8080:10.0.2.100:80'))),
    '{"proto":"tcp","parentIP":"127.0.0.1","parentPort":8080,"childPort":80,"childIP":"10.0.2.100"}');
});

test('parsePublishFlags: one line naming --publish and the spec; no port twice', (t) => {
  t.is(parsePublishFlags(['8080:80', '8080:80/udp', '127.0.0.1:8080:81']).length, 3);
  let err = t.throws(() => parsePublishFlags(['8080:80', 'nope']), { instanceOf: UsageError }) as UsageError;
  t.is(err.message, '--publish: invalid port spec "nope": expected [PARENT_IP:]PARENT_PORT:[CHILD_IP:]CHILD_PORT[/PROTO]');
  err = t.throws(() => parsePublishFlags(['[::1]:8080:80/tcp', '[::1]:8080:81']), { instanceOf: UsageError }) as UsageError;
  t.is(err.message, '--publish "[::1]:8080:81": tcp [::1]:8080 is already published by "[::1]:8080:80/tcp"');
  t.is(err.exitCode, ExitCode.Usage);
});

test('validateRunOptions rejects a bad -p before anything starts', (t) => {
  const o = { ...defaultRunOptions(['true']), net: 'none' as const, portDriver: 'builtin' as const, publish: ['127.0.0.1:70000:80/tcp'] };
  const err = t.throws(() => validateRunOptions(o), { instanceOf: UsageError }) as UsageError;
  t.regex(err.message, /^--publish: invalid port spec "127.0.0.1:70000:80\/tcp": parent port 70000 is outside 1-65535$/);
});

test('the -p specs validateRunOptions parsed are the ones the LaunchPlan carries (parsed once)', (t) => {
  const o = validateRunOptions({ ...defaultRunOptions(['true']), net: 'none', portDriver: 'builtin', publish: ['8080:80', '[::1]:5353:53/udp'] });
  t.deepEqual(o.publishSpecs.map((p) => p.value), ['8080:80', '[::1]:5353:53/udp']);
  t.is(planLaunch(o).ports.publish, o.publishSpecs);
});
