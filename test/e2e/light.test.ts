// The lighter launcher (issue #11): when nothing needs a process inside the
// namespaces once the target runs, the child becomes the target (exec), and
// the launcher's node is the session's only one. Without flags that need the
// node child's setup, that child is the addon's clone, which never boots node
// (src/parent/native-child.ts). The rest of the e2e suites (lifecycle, exec,
// notify, hardening, tty, bytes) run in this mode by default.
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

/** Whether the node child ran: it prints its own start-up marks (src/sys/trace.ts). */
function nodeChildRan(stderr: string): boolean {
  return /^rootless-trace child main /m.test(stderr);
}

e2e('no node inside by default: the clone execs the target, /proc/child_pid/exe is the target; flags the native child cannot set up keep the node child', async (t) => {
  const probe = 'c=$(cat "$ROOTLESSKIT_STATE_DIR/child_pid"); echo $$ $PPID $c; readlink /proc/$c/exe; cat /proc/$PPID/comm';
  const cases: [string[], Record<string, string>, boolean][] = [
    [[], {}, false],
    [['--propagation=rshared', '--utsns', '--cgroupns'], {}, false],
    [['--copy-up=/etc'], {}, true],
    [['--ipcns'], {}, true],
    [[], { ROOTLESS_NODE_CHILD: '1' }, true],
  ];
  for (const [flags, env, nodeChild] of cases) {
    const what = `${flags.join(' ')} ${JSON.stringify(env)}`;
    const child = start(U, ['run', ...flags, '--', 'sh', '-c', probe], { env: { ...env, ROOTLESS_TRACE_STARTUP: '1' } });
    const r = await collect(child);
    t.is(r.code, 0, `${what}: ${r.stderr}`);
    const [ids, exe, parentName] = lines(r.stdout);
    const [self, parent, childPid] = ids!.split(' ').map(Number);
    t.is(self, childPid, `${what}: child_pid is the target`);
    t.is(parent, child.pid!, `${what}: the target's parent is the launcher`);
    t.regex(exe!, /\/(da|ba)?sh$/, `${what}: /proc/child_pid/exe is the target's program`);
    t.regex(parentName!, /node/);
    t.is(nodeChildRan(r.stderr), nodeChild, `${what}: ${nodeChild ? 'the node child' : 'no node'} ran inside`);
    t.regex(r.stderr, /^rootless-trace parent child-ready /m, what);
  }
});

e2e('the native child: the target holds only fds 0-2 and its capabilities as uid 0, none inherited or ambient', async (t) => {
  for (const env of [{}, { ROOTLESS_NODE_CHILD: '1' }]) {
    const r = await run(U, ['run', '--', 'sh', '-c', 'ls /proc/$$/fd | tr "\\n" " "; echo; id -u; grep -E "^Cap(Inh|Eff|Amb)" /proc/$$/status'], { env });
    t.is(r.code, 0, r.stderr);
    const [fds, uid, ...caps] = lines(r.stdout);
    t.deepEqual(fds!.trim().split(/\s+/).sort(), ['0', '1', '2'], JSON.stringify(env));
    t.is(uid, '0');
    t.regex(caps.join(' '), /CapInh:\s+0+ CapEff:\s+[0-9a-f]*[1-9a-f][0-9a-f]* CapAmb:\s+0+/);
  }
});

e2e('exec failures from the native child: the same messages and exit codes as from the node child', async (t) => {
  const dir = userDir('rootless-light-fail-', t);
  const plain = join(dir, 'not-executable');
  writeFileSync(plain, 'echo hi\n');
  chmodSync(plain, 0o644);
  const garbage = join(dir, 'garbage');
  writeFileSync(garbage, '\x7fELF garbage');
  chmodSync(garbage, 0o755);
  const cases: [string[], number, RegExp][] = [
    [['no-such-command-rootless-test'], 127, /cannot run "no-such-command-rootless-test": command not found/],
    [[join(dir, 'missing')], 127, /cannot run ".*\/missing": command not found/],
    [[plain], 126, /cannot run ".*\/not-executable": permission denied/],
    [[dir], 126, /cannot run ".*": permission denied/],
    [[garbage], 126, /ENOEXEC|exec format error/],
  ];
  for (const [argv, code, message] of cases) {
    // A PATH the test user can search throughout: only the command decides.
    const env = { PATH: '/usr/bin:/bin' };
    const native = await run(U, ['run', '--', ...argv], { env: { ...env, ROOTLESS_TRACE_STARTUP: '1' } });
    const node = await run(U, ['run', '--', ...argv], { env: { ...env, ROOTLESS_NODE_CHILD: '1' } });
    t.false(nodeChildRan(native.stderr), 'the native child ran');
    t.is(native.code, code, native.stderr);
    t.is(node.code, code, node.stderr);
    t.regex(native.stderr, message);
    t.regex(node.stderr, message);
    if (argv[0] !== garbage) {
      const errorLine = (s: string): string | undefined => s.split('\n').find((l) => l.startsWith('rootless: error:'));
      t.is(errorLine(native.stderr), errorLine(node.stderr), 'the same error line');
    }
  }
});
