// The lighter launcher (issue #11): when nothing needs a process inside the
// namespaces once the target runs, the child becomes the target (exec), and
// the launcher's node is the session's only one. The rest of the e2e suites
// (lifecycle, exec, notify, hardening, tty) run in this mode by default.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { U, e2e, lines, run, start, collect, userDir, waitFor } from '../helpers/e2e.js';

/** The target's pid, its parent's, child_pid, and its parent's name. */
const PROBE = 'echo $$ $PPID $(cat "$ROOTLESSKIT_STATE_DIR/child_pid"); cat /proc/$PPID/comm';

e2e('host network, no ports, no --pidns: the child is the target (child_pid), its parent the launcher', async (t) => {
  const child = start(U, ['run', '--', 'sh', '-c', PROBE]);
  const r = await collect(child);
  t.is(r.code, 0, r.stderr);
  const [ids, parentExe] = lines(r.stdout);
  const [self, parent, childPid] = ids!.split(' ').map(Number);
  t.is(self, childPid, 'child_pid is the target itself');
  t.is(parent, child.pid!, 'the target\'s parent is the launcher (bin/rootless execs node)');
  t.regex(parentExe!, /node/);
});

e2e('ROOTLESS_KEEP_CHILD=1, and any flag that needs the child inside, keep it as the target\'s parent', async (t) => {
  for (const [flags, env] of [[[], { ROOTLESS_KEEP_CHILD: '1' }], [['--net=none'], {}]] as const) {
    const child = start(U, ['run', ...flags, '--', 'sh', '-c', PROBE], { env });
    const r = await collect(child);
    t.is(r.code, 0, r.stderr);
    const [ids, parentExe] = lines(r.stdout);
    const [self, parent, childPid] = ids!.split(' ').map(Number);
    t.is(parent, childPid, `${flags.join(' ')}: the child is the target's parent`);
    t.not(self, childPid);
    t.not(parent, child.pid);
    t.regex(parentExe!, /node/);
  }
});

e2e('the exec\'d target: exit codes and signals as before, a file that cannot be executed gives 126', async (t) => {
  t.is((await run(U, ['run', '--', 'sh', '-c', 'exit 42'])).code, 42);
  const killed = await run(U, ['run', '--', 'sh', '-c', 'kill -TERM $$']);
  t.is(killed.code, 143, killed.stderr);
  // The lookup finds it runnable; the kernel refuses it at execve (ENOEXEC), in the exec'd child.
  const dir = userDir('rootless-light-', t);
  const bad = join(dir, 'not-a-program');
  writeFileSync(bad, '\x7fELF garbage');
  chmodSync(bad, 0o755);
  for (const env of [{}, { ROOTLESS_KEEP_CHILD: '1' }]) {
    const r = await run(U, ['run', '--', bad], { env });
    t.is(r.code, 126, r.stderr);
    t.regex(r.stderr, /ENOEXEC|exec format error/);
  }
  // A signal to the launcher reaches the target: it reports it and exits as it says.
  const child = start(U, ['run', '--', 'sh', '-c', "trap 'echo got-usr1; exit 9' USR1; echo ready; while :; do sleep 1; done"]);
  const done = collect(child);
  await waitFor(child.stdout!, /ready/);
  child.kill('SIGUSR1');
  const r = await done;
  t.is(r.code, 9, r.stderr);
  t.regex(r.stdout, /got-usr1/);
});
