// End-to-end: signals the caller ignored stay ignored (nohup), and when the
// launcher exits nothing of the session is left (issue 9, items 4 and 10).
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { collect, descendants, start, waitFor } from '../helpers/rootless.js';
import { launcherUser, type TestUser } from '../helpers/user.js';

const who = launcherUser();
if (typeof who === 'string') test('lifecycle environment', (t) => t.fail(who));
const U = who as TestUser;
const e2e = typeof who === 'string' ? test.skip : test;
const e2eSerial = typeof who === 'string' ? test.serial.skip : test.serial;

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

  e2e(`a signal sent to the state-dir guard (pgrep -nf finds it) reaches the target as if sent to rootless${mode}`, async (t) => {
    const child = start(U, ['run', ...flags, '--', 'sh', '-c', TARGET]);
    const done = collect(child);
    await waitFor(child.stdout!, /ready/);
    const comm = (pid: number): string => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    };
    const guards = descendants(child.pid!).filter((d) => comm(d.pid) === 'rootless-guard');
    t.is(guards.length, 1, `one guard below the launcher: ${JSON.stringify(descendants(child.pid!))}`);
    process.kill(guards[0]!.pid, 'SIGUSR1');
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


// CPU hogs on every core while the exit tests run: the launcher must wait
// for its processes, not count on them being quick.
const hogs: ChildProcess[] = [];
const withHogs = (): void => {
  if (hogs.length > 0) return;
  for (let i = 0; i < 4; i++) hogs.push(spawn('yes', [], { stdio: ['ignore', 'ignore', 'ignore'] }));
};
test.after.always(() => {
  for (const h of hogs) h.kill('SIGKILL');
});

const EXIT_CASES: { title: string; flags: string[]; end: 'SIGTERM' | 'exit' }[] = [
  { title: 'slirp4netns, SIGTERM to the launcher', flags: ['--net=slirp4netns'], end: 'SIGTERM' },
  { title: 'slirp4netns and --pidns, the target exits', flags: ['--net=slirp4netns', '--pidns'], end: 'exit' },
  { title: 'pasta, SIGTERM to the launcher', flags: ['--net=pasta'], end: 'SIGTERM' },
  { title: 'host network, SIGTERM to the launcher', flags: [], end: 'SIGTERM' },
];

for (const c of EXIT_CASES) {
  e2eSerial(`when the launcher has exited, none of its processes remains, under CPU load (${c.title})`, async (t) => {
    withHogs();
    const script = c.end === 'exit' ? 'echo ready; read x; exit 3' : 'echo ready; exec sleep 1000';
    const child = start(U, ['run', ...c.flags, '--', 'sh', '-c', script], { keepStdin: true });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const done = collect(child);
    await waitFor(child.stdout!, /ready/);
    // The child, the target and the network driver.
    const session = descendants(child.pid!).map((d) => d.pid);
    t.true(session.length >= (c.flags.length > 0 ? 3 : 2), `processes below the launcher: ${session.join(' ')}`);
    if (c.end === 'SIGTERM') child.kill('SIGTERM');
    else child.stdin!.end('\n');
    const code = await exited;
    // At once, with no wait: not running, not a zombie, not there at all.
    const left = session.filter((pid) => existsSync(`/proc/${pid}`));
    t.deepEqual(left, [], `still there after the launcher exited: ${left.map((p) => {
      try {
        return readFileSync(`/proc/${p}/stat`, 'utf8').slice(0, 60);
      } catch {
        return String(p);
      }
    }).join('; ')}`);
    t.is(code, c.end === 'exit' ? 3 : 143, (await done).stderr);
  });
}
