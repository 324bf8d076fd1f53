// End-to-end: signals the caller ignored stay ignored (nohup), and when the
// launcher exits nothing of the session is left (issue 9, items 4 and 10).
import test from 'ava';
import { collect, start, waitFor } from '../helpers/rootless.js';
import { launcherUser, type TestUser } from '../helpers/user.js';

const who = launcherUser();
if (typeof who === 'string') test('lifecycle environment', (t) => t.fail(who));
const U = who as TestUser;
const e2e = typeof who === 'string' ? test.skip : test;

/** Prints its ignored-signal mask, then waits; SIGUSR1 ends it with 7. */
const TARGET =
  "trap 'echo usr1; kill $s; exit 7' USR1; sleep 1000 & s=$!; grep ^SigIgn: /proc/$$/status; echo ready; wait $s";

/** Bit N-1 of a SigIgn mask is signal N. */
const ignored = (out: string): bigint => BigInt(`0x${/SigIgn:\s*([0-9a-f]+)/.exec(out)?.[1] ?? 'ff'}`);

for (const pidns of [false, true]) {
  const flags = pidns ? ['--pidns'] : [];
  const mode = pidns ? ' (--pidns)' : '';

  e2e(`nohup: SIGHUP to the launcher neither ends the target nor reaches it${mode}`, async (t) => {
    const child = start(U, ['run', ...flags, '--', 'sh', '-c', TARGET], { wrapper: ['nohup'] });
    const done = collect(child);
    const early = await waitFor(child.stdout!, /ready/);
    t.is(ignored(early), 1n, `only SIGHUP is ignored in the target: ${early}`);
    // Pending standard signals arrive in ascending order and are relayed in
    // order: when the target reports SIGUSR1, SIGHUP has been dealt with.
    child.kill('SIGHUP');
    child.kill('SIGUSR1');
    const r = await done;
    t.is(r.code, 7, r.stderr);
    t.regex(r.stdout, /usr1/);
  });

  e2e(`trap '' INT: SIGINT stays ignored for the target and is not forwarded${mode}`, async (t) => {
    const child = start(U, ['run', ...flags, '--', 'sh', '-c', TARGET], {
      wrapper: ['sh', '-c', 'trap "" INT; exec "$0" "$@"'],
    });
    const done = collect(child);
    const early = await waitFor(child.stdout!, /ready/);
    t.is(ignored(early), 2n, `only SIGINT is ignored in the target: ${early}`);
    child.kill('SIGINT');
    child.kill('SIGUSR1');
    const r = await done;
    t.is(r.code, 7, r.stderr);
    t.regex(r.stdout, /usr1/);
  });
}

e2e('a signal the caller did not ignore is still forwarded (SIGHUP ends the target: 129)', async (t) => {
  const child = start(U, ['run', '--', 'sh', '-c', TARGET]);
  const done = collect(child);
  const early = await waitFor(child.stdout!, /ready/);
  t.is(ignored(early), 0n, early);
  child.kill('SIGHUP');
  const r = await done;
  t.is(r.code, 129, r.stderr);
});
