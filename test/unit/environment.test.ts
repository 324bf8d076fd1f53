// The target's environment is the caller's, byte for byte, apart from
// ROOTLESSKIT_* and the documented NOTIFY_SOCKET rewrite; of duplicate names
// the first stays and entries without '=' pass, as under RootlessKit (Go).
import test from 'ava';
import { targetEnvironment } from '../../src/parent/environment.js';
import { envGet, envSet, goEnviron, splitNul } from '../../src/sys/bytes.js';

const odd = 'a b\tc=d\u00e9\u{1F600}$(x)';
const B = (...s: (string | Buffer)[]): Buffer[] => s.map((x) => Buffer.from(x));
const text = (l: Buffer[]): string[] => l.map((b) => b.toString('latin1'));
const notRk = (l: Buffer[]): string[] => text(l).filter((e) => !e.startsWith('ROOTLESSKIT_'));

test('without a relay the environment is the caller\'s plus ROOTLESSKIT_*', (t) => {
  const env = B('PATH=/bin', `ODD=${odd}`, 'NOTIFY_SOCKET=@/org/freedesktop/systemd1/notify/1');
  const out = targetEnvironment(env, '/run/user/1/s');
  t.deepEqual(notRk(out), text(env));
  t.true(text(out).includes('ROOTLESSKIT_STATE_DIR=/run/user/1/s'));
});

test('bytes that are not UTF-8, names that are not identifiers, entries without \'=\' pass; of duplicates the first', (t) => {
  const raw = Buffer.from([0xff, 0xfe, 0x80, 0x3d, 0xc3, 0x28]);
  const env = [Buffer.from('A-B=1'), raw, Buffer.from('NOEQ'), Buffer.from('DUP=1'), Buffer.from('DUP=2'), Buffer.alloc(0), Buffer.from('X=')];
  const out = targetEnvironment(env, '/s');
  t.deepEqual(notRk(out), text([env[0]!, raw, env[2]!, env[3]!, env[6]!]));
});

test('with a relay only NOTIFY_SOCKET changes, in its place', (t) => {
  const env = B('A=1', 'NOTIFY_SOCKET=@x', `B=${odd}`);
  const out = targetEnvironment(env, '/s', '/s/notify.sock');
  t.deepEqual(notRk(out), text(B('A=1', 'NOTIFY_SOCKET=/s/notify.sock', `B=${odd}`)));
});

test('ROOTLESSKIT_* the caller had are replaced in place', (t) => {
  const out = targetEnvironment(B('ROOTLESSKIT_STATE_DIR=/old', 'A=1'), '/new');
  t.deepEqual(text(out).slice(0, 2), ['ROOTLESSKIT_STATE_DIR=/new', 'A=1']);
});

test('with a relay, a WATCHDOG_PID naming the launcher is dropped; another stays', (t) => {
  const ours = targetEnvironment(B('WATCHDOG_USEC=1000000', `WATCHDOG_PID=${process.pid}`), '/s', '/s/notify.sock');
  t.deepEqual(text(ours).filter((e) => e.startsWith('WATCHDOG_')), ['WATCHDOG_USEC=1000000']);
  const other = targetEnvironment(B('WATCHDOG_PID=1'), '/s', '/s/notify.sock');
  t.true(text(other).includes('WATCHDOG_PID=1'));
  const noRelay = targetEnvironment(B(`WATCHDOG_PID=${process.pid}`), '/s');
  t.true(text(noRelay).includes(`WATCHDOG_PID=${process.pid}`));
});

test('bytes helpers: NUL lists, lookups by name, Go\'s environment rules', (t) => {
  t.deepEqual(text(splitNul(Buffer.from('a\0\0b=1\0'))), ['a', '', 'b=1']);
  t.deepEqual(text(splitNul(Buffer.from('a\0b'))), ['a', 'b']);
  t.deepEqual(splitNul(Buffer.alloc(0)), []);
  const env = B('PATHX=1', 'PATH=/a', 'PATH=/b', 'P');
  t.is(envGet(env, 'PATH')?.toString(), '/a');
  t.is(envGet(env, 'P'), undefined);
  t.deepEqual(text(envSet(env, 'PATH', '/c')), ['PATHX=1', 'PATH=/c', 'P']);
  t.deepEqual(text(goEnviron(B('=x', '=y', 'a=1', '', 'a=2'))), ['=x', 'a=1']);
});
