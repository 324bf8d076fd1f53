// End-to-end: the real launcher, run as an unprivileged user with sub-id
// ranges, creating real user namespaces with the real newuidmap/newgidmap.
import { chmodSync, existsSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN as BIN_PATH, U, alive, collect, e2e, eventually, launcherUser, run, skip, start, subIdRange, tempDir, userDir, waitFor, type TestUser,
} from '../helpers/e2e.js';

e2e('the target is uid 0 and gid 0 in the namespace', async (t) => {
  const r = await run(U, ['run', '--', 'sh', '-c', 'id -u; id -g']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), ['0', '0']);
  t.is(r.stderr, '');
});

e2e('uid_map and gid_map map 0 to the user and the sub-id ranges from 1', async (t) => {
  const r = await run(U, ['run', '--', 'sh', '-c', 'cat /proc/self/uid_map; echo --; cat /proc/self/gid_map']);
  t.is(r.code, 0, r.stderr);
  const [uidText, gidText] = r.stdout.split('--\n');
  const rows = (s: string): number[][] => s.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const subuid = subIdRange('/etc/subuid', U)!;
  const subgid = subIdRange('/etc/subgid', U)!;
  t.truthy(subuid, 'the test user has a sub-uid range');
  t.deepEqual(rows(uidText!)[0], [0, U.uid, 1]);
  t.deepEqual(rows(uidText!)[1], [1, subuid.start, subuid.count]);
  t.deepEqual(rows(gidText!)[0], [0, U.gid, 1]);
  t.deepEqual(rows(gidText!)[1], [1, subgid.start, subgid.count]);
});

e2e('ids from the sub-range work: chown to 1000 inside shows the sub-uid outside', async (t) => {
  const dir = userDir('rootless-chown-');
  const r = await run(U, ['run', '--', 'sh', '-c', `touch ${dir}/f && chown 1000:1000 ${dir}/f && stat -c %u:%g ${dir}/f`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), '1000:1000');
  const st = statSync(join(dir, 'f'));
  t.is(st.uid, subIdRange('/etc/subuid', U)!.start + 999);
});

for (const [name, script, expected] of [
  ['exit 0', 'exit 0', 0],
  ['exit 3', 'exit 3', 3],
  ['SIGKILL', 'kill -9 $$', 137],
  ['SIGTERM', 'kill -TERM $$', 143],
] as const) {
  e2e(`exit status of the target is ours: ${name} -> ${expected}`, async (t) => {
    const r = await run(U, ['run', '--', 'sh', '-c', script]);
    t.is(r.code, expected, r.stderr);
  });
}

e2e('a command that does not exist exits 127 with one line naming it', async (t) => {
  const r = await run(U, ['run', '--', 'no-such-command-xyz']);
  t.is(r.code, 127);
  t.regex(r.stderr, /no-such-command-xyz.*not found/);
  t.is(r.stderr.trim().split('\n').length, 1);
});

e2e('a file that is not executable exits 126', async (t) => {
  const dir = userDir('rootless-noexec-');
  const file = join(dir, 'script.sh');
  writeFileSync(file, '#!/bin/sh\necho hi\n');
  chmodSync(file, 0o644);
  const r = await run(U, ['run', '--', file]);
  t.is(r.code, 126);
  t.regex(r.stderr, /permission denied/);
});

e2e('SIGTERM to the launcher reaches the target, which exits through its own handler', async (t) => {
  const child = start(U, ['run', '--', 'sh', '-c', 'trap "echo got-TERM; exit 7" TERM; echo ready; while :; do sleep 0.05; done']);
  const done = collect(child);
  await waitFor(child.stdout!, /ready/);
  child.kill('SIGTERM');
  const r = await done;
  t.is(r.code, 7, r.stderr);
  t.regex(r.stdout, /got-TERM/);
});

e2e('SIGUSR1 and SIGHUP are forwarded too', async (t) => {
  const script = 'trap "echo usr1" USR1; trap "echo hup; exit 0" HUP; echo ready; while :; do sleep 0.05; done';
  const child = start(U, ['run', '--', 'sh', '-c', script]);
  const done = collect(child);
  await waitFor(child.stdout!, /ready/);
  child.kill('SIGUSR1');
  await waitFor(child.stdout!, /usr1/);
  child.kill('SIGHUP');
  const r = await done;
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /usr1\s+hup/);
});

e2e('stdin is passed through to the target', async (t) => {
  const r = await run(U, ['run', '--', 'sh', '-c', 'tr a-z A-Z'], { input: 'hello from stdin\n' });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'HELLO FROM STDIN\n');
});

e2e('the environment is preserved and ROOTLESSKIT_* variables are set', async (t) => {
  const r = await run(U, ['run', '--', 'sh', '-c', 'echo "$FOO|$NODE_EXTRA_CA_CERTS|$ROOTLESSKIT_PARENT_EUID|$ROOTLESSKIT_PARENT_EGID|$ROOTLESSKIT_STATE_DIR"; env | grep -c ^_ROOTLESS || true'], {
    env: { FOO: 'bar baz', NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' },
  });
  t.is(r.code, 0, r.stderr);
  const [line, internal] = r.stdout.trim().split('\n');
  const [foo, ca, euid, egid, stateDir] = line!.split('|');
  t.is(foo, 'bar baz');
  t.is(ca, '/nonexistent/ca.pem', 'NODE_EXTRA_CA_CERTS reaches the target untouched');
  t.is(euid, String(U.uid));
  t.is(egid, String(U.gid));
  t.truthy(stateDir?.startsWith('/'));
  t.is(internal, '0', 'no internal _ROOTLESS_* variable leaks into the target');
});

e2e('no file descriptor of ours reaches the target', async (t) => {
  const r = await run(U, ['run', '--', 'sh', '-c', 'ls /proc/$$/fd']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), ['0', '1', '2']);
});

e2e('the target gets capabilities only from being uid 0: none ambient or inheritable', async (t) => {
  const r = await run(U, ['run', '--', 'grep', '^Cap', '/proc/self/status']);
  t.is(r.code, 0, r.stderr);
  const caps = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/:\s+/)));
  t.is(caps.CapAmb, '0000000000000000');
  t.is(caps.CapInh, '0000000000000000');
  t.regex(caps.CapEff!, /^0000[0-9a-f]{12}$/);
  t.true((BigInt(`0x${caps.CapEff}`) >> 21n) & 1n ? true : false, 'CAP_SYS_ADMIN held');
});

e2e('the re-exec fallback gains capabilities when the ambient raise is disabled', async (t) => {
  const r = await run(U, ['run', '--debug', '--', 'sh', '-c', 'id -u; grep ^CapEff /proc/self/status'], {
    env: { ROOTLESS_DISABLE_AMBIENT_CAPS: '1' },
  });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^0\nCapEff:\s+0000[0-9a-f]{12}/);
  t.regex(r.stderr, /re-executed itself/);
});

e2e('--propagation is applied to / (default rprivate: neither shared nor slave; rshared: shared)', async (t) => {
  const rootLine = (text: string): string => text.split('\n').find((l) => l.split(' ')[4] === '/') ?? '';
  const def = await run(U, ['run', '--', 'cat', '/proc/self/mountinfo']);
  t.is(def.code, 0, def.stderr);
  t.notRegex(rootLine(def.stdout), /shared:|master:/);
  const shared = await run(U, ['run', '--propagation=rshared', '--', 'cat', '/proc/self/mountinfo']);
  t.is(shared.code, 0, shared.stderr);
  t.regex(rootLine(shared.stdout), /shared:\d+/);
});

e2e('--state-dir holds lock and child_pid during the session, mode 0700, cleaned after', async (t) => {
  const base = userDir('rootless-state-');
  const dir = join(base, 'session');
  // (the state dir holds more files too: session.json once the target runs, api.sock)
  const probe = 'cd "$ROOTLESSKIT_STATE_DIR" && ls | grep -x -e child_pid -e lock && cat child_pid && echo && echo $$ $PPID && stat -c %a .';
  const r = await run(U, ['run', `--state-dir=${dir}`, '--', 'sh', '-c', probe]);
  t.is(r.code, 0, r.stderr);
  const [files1, files2, childPid, ids, mode] = r.stdout.trim().split('\n');
  t.deepEqual([files1, files2], ['child_pid', 'lock']);
  // Host network, no --pidns: the child became the target (src/parent/plan.ts targetReplacesChild).
  t.is(childPid, ids!.split(' ')[0], 'child_pid is the target itself');
  const kept = await run(U, ['run', `--state-dir=${dir}`, '--', 'sh', '-c', probe], { env: { ROOTLESS_KEEP_CHILD: '1' } });
  t.is(kept.code, 0, kept.stderr);
  const [, , keptChild, keptIds] = kept.stdout.trim().split('\n');
  t.is(keptChild, keptIds!.split(' ')[1], 'with the child kept, child_pid is the target\'s parent');
  t.is(mode, '700');
  t.false(existsSync(dir), 'the state dir the session created is gone');
});

e2e('the default state dir is a fresh 0700 directory that is removed on exit', async (t) => {
  const r = await run(U, ['run', '--', 'sh', '-c', 'echo $ROOTLESSKIT_STATE_DIR; stat -c %a $ROOTLESSKIT_STATE_DIR']);
  t.is(r.code, 0, r.stderr);
  const [dir, mode] = r.stdout.trim().split('\n');
  t.is(mode, '700');
  t.false(existsSync(dir!));
});

e2e('a second launcher on the same state dir fails clearly; a killed one leaves a reusable dir', async (t) => {
  const dir = join(userDir('rootless-lock-'), 's');
  const first = start(U, ['run', `--state-dir=${dir}`, '--', 'sh', '-c', 'echo ready; exec sleep 30']);
  const firstDone = collect(first);
  await waitFor(first.stdout!, /ready/);
  const second = await run(U, ['run', `--state-dir=${dir}`, '--', 'true']);
  t.is(second.code, 125);
  t.regex(second.stderr, /in use by another session/);
  t.is(second.stderr.trim().split('\n').length, 1);
  first.kill('SIGKILL');
  await firstDone;
  t.true(existsSync(join(dir, 'child_pid')), 'a SIGKILLed parent leaves its files');
  const third = await run(U, ['run', `--state-dir=${dir}`, '--', 'sh', '-c', 'cat $ROOTLESSKIT_STATE_DIR/child_pid; echo; echo $$']);
  t.is(third.code, 0, third.stderr);
  const [pidFile, self] = third.stdout.trim().split('\n');
  t.is(pidFile, self, 'the stale child_pid was replaced (the child became the target)');
});

e2e('nsenter with child_pid enters the session (user + mount namespaces)', async (t) => {
  const dir = join(userDir('rootless-nsenter-'), 's');
  const child = start(U, ['run', `--state-dir=${dir}`, '--', 'sh', '-c', 'readlink /proc/self/ns/mnt; echo ready; exec sleep 30']);
  const done = collect(child);
  const out = await waitFor(child.stdout!, /ready/);
  const mntns = out.split('\n')[0];
  const pid = readFileSync(join(dir, 'child_pid'), 'utf8').trim();
  const entered = await run(U, ['-U', '-m', '--preserve-credentials', '-t', pid, 'sh', '-c', 'id -u; readlink /proc/self/ns/mnt'], { bin: '/usr/bin/nsenter' });
  child.kill('SIGTERM');
  await done;
  t.is(entered.code, 0, entered.stderr);
  t.deepEqual(entered.stdout.trim().split('\n'), ['0', mntns]);
});

e2e.serial('SIGKILL of the parent leaves no child or target alive', async (t) => {
  const dir = join(userDir('rootless-kill-'), 's');
  const child = start(U, ['run', `--state-dir=${dir}`, '--', 'sh', '-c', 'echo $$; echo ready; exec sleep 60']);
  const done = collect(child);
  const out = await waitFor(child.stdout!, /ready/);
  const targetPid = Number(out.split('\n')[0]);
  const childPid = Number(readFileSync(join(dir, 'child_pid'), 'utf8'));
  t.true(await alive(targetPid));
  t.true(await alive(childPid));
  child.kill('SIGKILL');
  await done;
  t.true(await eventually(async () => !(await alive(targetPid)) && !(await alive(childPid)), 30_000), 'child and target gone');
});

e2e('newuidmap that cannot gain privileges: one-line error with its stderr, exit 125, nothing left', async (t) => {
  const bin = tempDir('rootless-fakebin-');
  chmodSync(bin, 0o755);
  for (const tool of ['newuidmap', 'newgidmap']) {
    writeFileSync(join(bin, tool), readFileSync(`/usr/bin/${tool}`), { mode: 0o755 }); // no set-uid bit
  }
  const dir = join(userDir('rootless-nomap-'), 's');
  const r = await run(U, ['run', `--state-dir=${dir}`, '--', 'true'], {
    env: { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin` },
  });
  t.is(r.code, 125);
  t.regex(r.stderr, /newuidmap.*(Operation not permitted|failed)/);
  t.regex(r.stderr, /set-uid/);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.false(existsSync(dir), 'the state dir is removed');
});

e2e('no_new_privs: a clear error, never a hang', async (t) => {
  for (const source of ['auto', 'static']) {
    // A hang would be the launcher still running when collect's backstop fires (a rejection).
    const r = await run(U, ['run', `--subid-source=${source}`, '--', 'true'], { wrapper: ['setpriv', '--no-new-privs'] });
    t.is(r.code, 125, r.stderr);
    t.regex(r.stderr, /no_new_privs/);
  }
  const none = await run(U, ['run', '--subid-source=none', '--', 'id', '-u'], { wrapper: ['setpriv', '--no-new-privs'] });
  t.is(none.code, 0, none.stderr);
  t.is(none.stdout.trim(), '0');
});

e2e('--subid-source=none maps only the user, without a warning', async (t) => {
  const r = await run(U, ['run', '--subid-source=none', '--', 'sh', '-c', 'id -u; cat /proc/self/uid_map | wc -l; cat /proc/self/setgroups']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n').map((s) => s.trim()), ['0', '1', 'deny']);
  t.is(r.stderr, '');
});

const nosub = launcherUser(process.env.ROOTLESS_TEST_NOSUB_USER ?? 'rootless-nosub');
const noNosub =
  typeof nosub === 'string' ? nosub : !nosub.switchTo ? 'the suite does not run as root, so it cannot start the launcher as the no-sub-id user' : undefined;
const nosubTest = (title: string, impl: Parameters<typeof e2e>[1]): void => (noNosub === undefined ? e2e(title, impl) : skip(title, noNosub));

nosubTest('a user without sub-ids falls back to a single mapping with a warning naming the fix (auto)', async (t) => {
  const N = nosub as TestUser;
  const r = await run(N, ['run', '--', 'sh', '-c', 'id -u; wc -l < /proc/self/uid_map']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n').map((s) => s.trim()), ['0', '1']);
  t.regex(r.stderr, /^rootless: warning: no sub-uid range/m);
  // The suggested range is free: it overlaps no range of /etc/subuid or /etc/subgid.
  const m = new RegExp(`usermod --add-subuids (\\d+)-(\\d+) --add-subgids \\1-\\2 ${N.name}\\b`).exec(r.stderr);
  t.truthy(m, r.stderr);
  const [a, b] = [Number(m![1]), Number(m![2])];
  t.is(b - a + 1, 65536);
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [owner, start, count] = line.split(':');
      if (!owner || start === undefined || count === undefined) continue;
      const [s, e] = [Number(start), Number(start) + Number(count) - 1];
      t.false(a <= e && s <= b, `${a}-${b} overlaps ${file}: ${line}`);
    }
  }
});

nosubTest('a user without sub-ids gets an error with --subid-source=static', async (t) => {
  const N = nosub as TestUser;
  const r = await run(N, ['run', '--subid-source=static', '--', 'true']);
  t.is(r.code, 125);
  t.regex(r.stderr, /no sub-uid range.*--subid-source=static/);
});

e2e('flag errors: one line naming the flag and value, exit 2', async (t) => {
  const unknown = await run(U, ['run', '--no-such-flag', '--', 'true']);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown flag --no-such-flag/);
  t.is(unknown.stderr.trim().split('\n').length, 1);
  const bad = await run(U, ['run', '--propagation=weird', '--', 'true']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--propagation.*weird/);
  const missing = await run(U, ['run']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /missing command/);
});

e2e('help lists the flag groups; --version prints the version', async (t) => {
  const help = await run(U, ['run', '--help']);
  t.is(help.code, 0);
  for (const group of ['Mount', 'Network', 'Port', 'Process', 'State', 'SubID']) t.regex(help.stdout, new RegExp(`^${group}`, 'm'));
  const version = await run(U, ['--version']);
  t.is(version.code, 0);
  t.regex(version.stdout, /^rootless version \d+\.\d+\.\d+/);
});

e2e('invoked as "rootlesskit", it takes RootlessKit\'s argv', async (t) => {
  const dir = tempDir('rootless-compat-');
  chmodSync(dir, 0o755);
  symlinkSync(BIN_PATH, join(dir, 'rootlesskit'));
  const r = await run(U, ['--propagation=rslave', 'sh', '-c', 'id -u; echo $ROOTLESSKIT_STATE_DIR'], { bin: join(dir, 'rootlesskit') });
  t.is(r.code, 0, r.stderr);
  const [uid, stateDir] = r.stdout.trim().split('\n');
  t.is(uid, '0');
  t.truthy(stateDir);
});

// "flags not built yet are refused before anything starts": removed once
// every flag was built (issues 3-5); src/parent/support.ts refuses nothing.

e2e('--net=none: a new network namespace with only loopback, and loopback up', async (t) => {
  const script = 'readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; python3 -c "import socket; s=socket.socket(); s.bind((\'127.0.0.1\',0)); s.listen(); socket.create_connection(s.getsockname()); print(\'connected\')"';
  const r = await run(U, ['run', '--net=none', '--', 'sh', '-c', script]);
  t.is(r.code, 0, r.stderr);
  const [ns, ...rest] = r.stdout.trim().split('\n');
  t.not(ns, readlinkSync('/proc/self/ns/net'), 'not the host network namespace');
  t.deepEqual(rest, ['lo', 'connected']);
});

e2e('user namespaces disabled (max_user_namespaces=0): one line saying so and what to change, exit 125', async (t) => {
  // Inside a user namespace of its own, the test may set that namespace's
  // limit to 0 without touching the host's: the launcher then meets exactly
  // what it meets on a machine where user namespaces are disabled.
  const r = await run(U, ['-U', '-r', 'sh', '-c', `echo 0 > /proc/sys/user/max_user_namespaces && exec ${BIN_PATH} run -- true`], {
    bin: '/usr/bin/unshare',
  });
  t.is(r.code, 125, r.stderr);
  t.regex(r.stderr, /user namespaces are disabled: user\.max_user_namespaces is 0/);
  t.regex(r.stderr, /sysctl -w user\.max_user_namespaces=/);
  t.is(r.stderr.trim().split('\n').length, 1);
});
