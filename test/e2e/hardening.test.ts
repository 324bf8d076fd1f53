// End-to-end hardening (issue #9): the fd limit the target gets, symlinks
// planted in a --state-dir, values that reach a helper's argv, what is left
// at the end of a session, and small usage errors. The launcher runs as the
// unprivileged test user.
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { U, alive, collect, e2e, eventually, run, start, userDir, waitFor } from '../helpers/e2e.js';

function limits(pid: number | 'self'): { soft: string; hard: string } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.slice('Max open files'.length).trim().split(/\s+/) as [string, string];
  return { soft, hard };
}

// ---------------------------------------------------------------------------
// The fd limit

e2e('the target gets the soft fd limit rootless was started with; the launcher has the hard one', async (t) => {
  const hard = limits('self').hard;
  // The launcher is started with a soft limit of 777.
  const wrapper = ['sh', '-c', 'ulimit -Sn 777 && exec "$0" "$@"'];
  for (const flags of [[], ['--pidns']]) {
    const r = await run(U, ['run', ...flags, '--', 'sh', '-c', 'ulimit -Sn; ulimit -Hn; env | grep -c ^_ROOTLESS || true'], { wrapper });
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, `777\n${hard}\n0\n`, `${flags.join(' ')}: the target's limits, and no variable of ours in its environment`);
  }
  const child = start(U, ['run', '--', 'sh', '-c', 'echo ready; read x'], { wrapper, keepStdin: true });
  const done = collect(child, 60_000);
  await waitFor(child.stdout!, /ready/);
  t.deepEqual(limits(child.pid!), { soft: hard, hard }, 'the launcher (relay, API) runs with the hard limit');
  child.stdin!.end('\n');
  t.is((await done).code, 0);
});

// ---------------------------------------------------------------------------
// Symlinks planted in a --state-dir

const STATE_NAMES = ['child_pid', 'netns', 'resolv.conf', 'hosts', 'api.sock', 'slirp4netns.sock', 'pasta.pid', 'session.json', 'notify.sock'];
const PLANTED = ['lock', ...STATE_NAMES, ...STATE_NAMES.map((n) => `.${n}.tmp`)];

const configs: [string, string[], Record<string, string>?][] = [
  ['host network', []],
  // The launcher binds notify.sock for the target (a manager that is not there is fine here).
  ['NOTIFY_SOCKET relay', ['--net=none'], { NOTIFY_SOCKET: '/nonexistent/notify' }],
  ['api.sock before the target', ['--net=none', '--port-driver=builtin']],
  ['slirp4netns, resolv.conf and hosts', ['--net=slirp4netns', '--port-driver=slirp4netns', '--copy-up=/etc']],
  ['pasta', ['--net=pasta']],
  ['detached netns', ['--net=slirp4netns', '--detach-netns']],
];

for (const [what, flags, env] of configs) {
  e2e(`--state-dir with a planted symlink at every name is never written through (${what})`, async (t) => {
    const base = userDir('rootless-planted-');
    const dir = join(base, 'state');
    mkdirSync(dir, { mode: 0o700 });
    const victims = new Map<string, string>();
    for (const name of PLANTED) {
      const victim = join(base, `victim-${name}`);
      writeFileSync(victim, 'precious\n', { mode: 0o666 });
      chmodSync(victim, 0o666);
      symlinkSync(`../victim-${name}`, join(dir, name));
      victims.set(name, victim);
    }
    if (U.switchTo) for (const p of [dir, ...victims.values()]) chownSync(p, U.uid, U.gid);
    const r = await run(U, ['run', '--state-dir', dir, ...flags, '--', 'sh', '-c', 'echo ran'], env ? { env } : {});
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, 'ran\n');
    for (const [name, victim] of victims) {
      t.true(lstatSync(victim).isFile(), `${name}: the victim is still a file`);
      t.is(readFileSync(victim, 'utf8'), 'precious\n', `${name}: the victim is unchanged`);
    }
    // The links were removed, and nothing of the session is left.
    t.deepEqual(readdirSync(dir), []);
  });
}

// ---------------------------------------------------------------------------
// Values that reach a helper's argv; usage errors

e2e('--ifname=--help: one line naming the flag, exit 2, nothing starts', async (t) => {
  const dir = userDir('rootless-ifname-');
  const marker = join(dir, 'ran');
  const r = await run(U, ['run', '--net=slirp4netns', '--ifname=--help', '--', 'touch', marker]);
  t.is(r.code, 2);
  t.is(r.stderr, `rootless run: --ifname: "--help" must not start with '-'\n`);
  t.is(r.stdout, '', 'slirp4netns did not print its help');
  t.false(existsSync(marker), 'the target did not run');
});

e2e('--version --bogus is a usage error; --version alone prints the version', async (t) => {
  const bad = await run(U, ['--version', '--bogus']);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'rootless: unknown flag --bogus\n');
  t.is(bad.stdout, '');
  const ok = await run(U, ['--version']);
  t.is(ok.code, 0);
  t.regex(ok.stdout, /^rootless version \d/);
});

e2e('a 100 KB bad flag value is cut in the error', async (t) => {
  const r = await run(U, ['run', `--net=${'x'.repeat(100_000)}`, '--', 'true']);
  t.is(r.code, 2);
  t.true(r.stderr.length < 300, `${r.stderr.length} bytes of error`);
  t.regex(r.stderr, /^rootless run: --net: invalid value "x{80}"… \(100000 characters\)/);
});

e2e('/proc/PID as --state-dir: an error naming --state-dir and the value', async (t) => {
  // A process of the test user: /proc/PID is a directory the user owns.
  const sleeper = start(U, ['run', '--', 'sh', '-c', 'echo ready; exec sleep 600']);
  const done = collect(sleeper, 60_000);
  try {
    await waitFor(sleeper.stdout!, /ready/);
    const dir = `/proc/${sleeper.pid}`;
    const r = await run(U, ['run', '--state-dir', dir, '--', 'true']);
    t.is(r.code, 125);
    t.is(r.stderr, `rootless: error: --state-dir ${dir}: cannot make it private (mode 0700): EPERM\n`);
  } finally {
    sleeper.kill('SIGTERM');
    await done;
  }
});

e2e('an existing --state-dir of mode 0777 is made 0700, and the user is told', async (t) => {
  const dir = join(userDir('rootless-mode-'), 'state');
  mkdirSync(dir);
  chmodSync(dir, 0o777);
  if (U.switchTo) chownSync(dir, U.uid, U.gid);
  const r = await run(U, ['run', '--state-dir', dir, '--', 'true']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, `rootless: warning: --state-dir ${dir} had mode 0777, writable by others: changed to 0700\n`);
  t.is(statSync(dir).mode & 0o777, 0o700);
});

e2e('a named session killed with SIGKILL leaves no $XDG_RUNTIME_DIR/rootless behind', async (t) => {
  const runtime = userDir('rootless-xdg-');
  chmodSync(runtime, 0o700);
  const base = join(runtime, 'rootless');
  const child = start(U, ['run', '--name', 'killed', '--', 'sh', '-c', 'echo ready; exec sleep 600'], { env: { XDG_RUNTIME_DIR: runtime } });
  const done = collect(child, 60_000);
  await waitFor(child.stdout!, /ready/);
  t.true(existsSync(join(base, 'killed')));
  child.kill('SIGKILL');
  await done;
  // The guard notices the launcher's exit and cleans up after it.
  t.true(await eventually(async () => !existsSync(base), 20_000), `${base} is removed: ${existsSync(base) ? readdirSync(base).join(',') : ''}`);
  // A normal end removes it too.
  const r = await run(U, ['run', '--name', 'normal', '--', 'true'], { env: { XDG_RUNTIME_DIR: runtime } });
  t.is(r.code, 0, r.stderr);
  t.false(existsSync(base));
});

// ---------------------------------------------------------------------------
// What the target leaves running, at the end of the session

const ORPHAN = 'setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $!';

e2e('by default, what the target left running (setsid daemon &) is killed when the session ends', async (t) => {
  const r = await run(U, ['run', '--', 'sh', '-c', ORPHAN]);
  t.is(r.code, 0, r.stderr);
  const pid = Number(r.stdout.trim());
  t.true(pid > 0);
  t.true(await eventually(async () => !(await alive(pid)), 10_000), `orphan ${pid} is gone`);
});

e2e('--keep-orphans: it runs on after the session, as with RootlessKit (also after a SIGKILL of rootless)', async (t) => {
  const pids: number[] = [];
  t.teardown(() => {
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const r = await run(U, ['run', '--keep-orphans', '--', 'sh', '-c', ORPHAN]);
  t.is(r.code, 0, r.stderr);
  const pid = Number(r.stdout.trim());
  pids.push(pid);
  t.true(await alive(pid), 'the orphan outlives the session');

  const child = start(U, ['run', '--keep-orphans', '--', 'sh', '-c', `${ORPHAN}; echo ready; exec sleep 600`]);
  const done = collect(child, 60_000);
  const out = await waitFor(child.stdout!, /ready/);
  const pid2 = Number(out.split('\n')[0]);
  pids.push(pid2);
  child.kill('SIGKILL');
  await done;
  t.true(await alive(pid2), 'the guard leaves it alone too');

  const bad = await run(U, ['run', '--keep-orphans', '--pidns', '--', 'true']);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'rootless run: --keep-orphans cannot be used with --pidns (a PID namespace ends with its first process)\n');
});
