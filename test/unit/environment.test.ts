// The target's environment is the caller's, byte for byte, apart from
// ROOTLESSKIT_* and the documented NOTIFY_SOCKET rewrite.
import test from 'ava';
import { SAVED_CA_ENV, targetEnvironment } from '../../src/parent/environment.js';

const odd = 'a b\tc=d\u00e9\u{1F600}$(x)';

test('without a relay the environment is the caller\'s plus ROOTLESSKIT_*', (t) => {
  const env = { PATH: '/bin', ODD: odd, NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify/1' };
  const out = targetEnvironment(env, '/run/user/1/s');
  t.deepEqual(out.filter((e) => !e.startsWith('ROOTLESSKIT_')), ['PATH=/bin', `ODD=${odd}`, 'NOTIFY_SOCKET=@/org/freedesktop/systemd1/notify/1']);
  t.true(out.includes('ROOTLESSKIT_STATE_DIR=/run/user/1/s'));
});

test('with a relay only NOTIFY_SOCKET changes, in its place', (t) => {
  const env = { A: '1', NOTIFY_SOCKET: '@x', B: odd };
  const out = targetEnvironment(env, '/s', '/s/notify.sock');
  t.deepEqual(out.filter((e) => !e.startsWith('ROOTLESSKIT_')), ['A=1', 'NOTIFY_SOCKET=/s/notify.sock', `B=${odd}`]);
});

test('NODE_EXTRA_CA_CERTS saved by bin/rootless comes back under its own name', (t) => {
  const out = targetEnvironment({ [SAVED_CA_ENV]: '/ca.pem' }, '/s');
  t.true(out.includes('NODE_EXTRA_CA_CERTS=/ca.pem'));
  t.false(out.some((e) => e.startsWith(`${SAVED_CA_ENV}=`)));
});

test('with a relay, a WATCHDOG_PID naming the launcher is dropped; another stays', (t) => {
  const ours = targetEnvironment({ WATCHDOG_USEC: '1000000', WATCHDOG_PID: String(process.pid) }, '/s', '/s/notify.sock');
  t.deepEqual(ours.filter((e) => e.startsWith('WATCHDOG_')), ['WATCHDOG_USEC=1000000']);
  const other = targetEnvironment({ WATCHDOG_PID: '1' }, '/s', '/s/notify.sock');
  t.true(other.includes('WATCHDOG_PID=1'));
  const noRelay = targetEnvironment({ WATCHDOG_PID: String(process.pid) }, '/s');
  t.true(noRelay.includes(`WATCHDOG_PID=${process.pid}`));
});
