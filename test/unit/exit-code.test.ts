// exitCodeOf: the one place a status becomes an exit code.
import test from 'ava';
import { ExitCode, exitCodeOf } from '../../src/sys/errors.js';

test('a code is itself, a signal N is 128+N, no status is the launcher failing', (t) => {
  t.is(exitCodeOf({ code: 0, signal: null }), 0);
  t.is(exitCodeOf({ code: 3, signal: null }), 3);
  t.is(exitCodeOf({ code: null, signal: 9 }), 137);
  t.is(exitCodeOf({ code: null, signal: 15 }), 143);
  t.is(exitCodeOf({ code: null, signal: null }), ExitCode.LauncherFailed);
});
