// The short form of test/chaos.ts, in every run of the suite: a few
// sessions (--pidns, slirp4netns, builtin ports), each with the launcher,
// its child, the target or slirp4netns SIGKILLed at a random event of
// start-up or of the session. Nothing may leak or hang, and the state dir
// must start a new session afterwards. The seed is random per run and in
// the test's log: replay a failure with
// `node dist/test/chaos.js --sessions N --seed S`.
import { randomInt } from 'node:crypto';
import { chaos } from '../chaos.js';
import { U, e2e } from '../helpers/e2e.js';

const SESSIONS = Number(process.env.ROOTLESS_CHAOS_SESSIONS ?? 6);

e2e.serial(`chaos: ${SESSIONS} sessions with one of their processes SIGKILLed leave nothing behind`, async (t) => {
  const seed = randomInt(1, 2 ** 31);
  t.log(`seed ${seed} (replay: node dist/test/chaos.js --sessions ${SESSIONS} --seed ${seed})`);
  const result = await chaos({ sessions: SESSIONS, seed, user: U, print: (s) => t.log(s) });
  t.deepEqual(result.leaks, [], 'no leaked process, mount, state dir or port, and no launcher that did not end');
  t.is(result.hangs, 0);
  t.true(result.reusable, 'a new session starts on the same --state-dir');
});
