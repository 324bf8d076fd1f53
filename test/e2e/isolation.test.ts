// End-to-end: process and mount isolation (--pidns, --reaper, --utsns,
// --ipcns, --cgroupns, --evacuate-cgroup2, a fresh /sys, --copy-up, socket
// activation) and hygiene when a session ends badly, with the real launcher
// as the unprivileged test user. Host ports come from the kernel.
import { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync, chmodSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  BIN, PortClash, clashOn, U, alive, collect, e2e, e2eUnless, eventually, lines, marker, pidsWith, run, session as startSession, start, userDir, waitFor, withPorts,
  type Session as RunningSession,
} from '../helpers/e2e.js';

const asRoot = process.getuid!() === 0;

// ---- pid namespace, /proc, reaper -------------------------------------------

e2e('--pidns: the child is PID 1 of a fresh /proc, and ps sees only the namespace', async (t) => {
  const r = await run(U, ['run', '--pidns', '--', 'sh', '-c', 'echo $$; ps -e -o pid=,comm=; echo --; grep " /proc " /proc/self/mountinfo']);
  t.is(r.code, 0, r.stderr);
  const [head, mounts] = r.stdout.split('--\n');
  const [self, ...ps] = lines(head!);
  t.true(Number(self) > 1 && Number(self) < 100, `the target has a small pid in the namespace (${self})`);
  const procs = ps.map((l) => l.trim().split(/\s+/));
  t.deepEqual(procs[0], ['1', 'node'], 'pid 1 is the child');
  t.true(procs.length <= 4, `only the namespace's processes are listed: ${ps.join('; ')}`);
  t.true(procs.some(([pid, comm]) => pid === self && comm === 'sh'));
  // A new proc instance mounted over the host's: two proc mounts on /proc, the last with our flags.
  const procMounts = lines(mounts!).filter((l) => / - proc /.test(l));
  t.true(procMounts.length >= 2, mounts);
  t.regex(procMounts[procMounts.length - 1]!, /nosuid,nodev,noexec/);
});

for (const [name, script, expected] of [
  ['exit 3', 'exit 3', 3],
  ['SIGKILL', 'kill -9 $$', 137],
  ['SIGTERM', 'kill -TERM $$', 143],
] as const) {
  e2e(`--pidns with the reaper: the target's status is exact: ${name} -> ${expected}`, async (t) => {
    const r = await run(U, ['run', '--pidns', '--', 'sh', '-c', script]);
    t.is(r.code, expected, r.stderr);
  });
}

// The target makes 100 orphans (each a subshell's `sleep` whose parent
// exits at once, so it is reparented to PID 1), kills them, and waits until
// none runs and the number of zombies left is the one expected ($1): 0 with
// the reaper, all 100 without. If that never comes, it prints what it saw.
const ORPHANS = `
for i in $(seq 100); do (sleep 600 &); done
echo "orphans=$(ps -e -o ppid=,comm= | grep -c '^ *1 sleep$')"
kill $(ps -e -o pid=,comm= | awk '$2 == "sleep" {print $1}')
i=0
while [ $i -lt 1200 ]; do
  running=$(ps -e -o stat=,comm= | grep ' sleep$' | grep -vc '^Z')
  zombies=$(ps -e -o stat=,comm= | grep '^Z' | grep -c ' sleep$')
  [ "$running" = 0 ] && [ "$zombies" = "$1" ] && break
  sleep 0.05; i=$((i+1))
done
echo "running=$running zombies=$zombies"
`;

e2e('--reaper (auto with --pidns): 100 orphaned zombies are reaped, none remain', async (t) => {
  const r = await run(U, ['run', '--pidns', '--', 'sh', '-c', ORPHANS, 'sh', '0']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /orphans=100\n/, 'the orphans were reparented to PID 1');
  t.regex(r.stdout, /running=0 zombies=0\n/);
});

e2e('--reaper=false: the same 100 orphans stay zombies (what the reaper prevents)', async (t) => {
  const r = await run(U, ['run', '--pidns', '--reaper=false', '--', 'sh', '-c', ORPHANS, 'sh', '100']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /orphans=100\n/);
  t.regex(r.stdout, /running=0 zombies=100\n/);
});

e2e('--pidns: SIGTERM to the launcher reaches the target (PID 1 forwards it)', async (t) => {
  const child = start(U, ['run', '--pidns', '--', 'sh', '-c', 'trap "echo got-TERM; exit 7" TERM; echo ready; while :; do sleep 0.05; done']);
  const done = collect(child);
  await waitFor(child.stdout!, /ready/);
  child.kill('SIGTERM');
  const r = await done;
  t.is(r.code, 7, r.stderr);
  t.regex(r.stdout, /got-TERM/);
});

e2e('--pidns: SIGTERM while the child sets up ends the start with 143, nothing left', async (t) => {
  const m = marker();
  const tmp = userDir('rootless-iso-early-', t);
  const child = start(U, ['run', '--pidns', '--copy-up=/etc', '--', 'sleep', m], { env: { TMPDIR: tmp, XDG_RUNTIME_DIR: tmp } });
  const done = collect(child);
  // Early, as soon as the launcher has made its state dir: the child is being set up.
  await eventually(async () => readdirSync(tmp).length > 0 || child.exitCode !== null, 60_000);
  child.kill('SIGTERM');
  const r = await done;
  // Interrupted during the start (143), or the target got it, or the launcher itself had no handler yet.
  t.true(r.code === 143 || r.signal === 'SIGTERM', `exit ${r.code} ${r.signal}: ${r.stderr}`);
  t.true(await eventually(async () => pidsWith(m).length === 0, 30_000), 'no target left');
  t.deepEqual(readdirSync(tmp), [], 'no state dir left');
});

// ---- uts, ipc, cgroup namespaces ---------------------------------------------

e2e('--utsns: the hostname can be set inside; the host keeps its own', async (t) => {
  const before = hostname();
  const r = await run(U, ['run', '--utsns', '--', 'sh', '-c', 'hostname rootless-uts-test && hostname']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), 'rootless-uts-test');
  t.is(hostname(), before);
  const without = await run(U, ['run', '--', 'sh', '-c', 'hostname rootless-uts-test']);
  t.not(without.code, 0, 'without --utsns the host name may not be changed');
  t.is(hostname(), before);
});

e2e('--ipcns: System V IPC and /dev/shm are private to the session', async (t) => {
  if (!asRoot) t.log('not root: the host-side segment is made as the test user');
  const hostId = execFileSync('ipcmk', ['-M', '4096'], { encoding: 'utf8' }).match(/(\d+)/)![1]!;
  const shmName = `rootless-iso-${process.pid}`;
  writeFileSync(`/dev/shm/${shmName}-host`, 'host');
  try {
    const script = `ipcs -m | grep -c '^0x' || true; ipcmk -M 4096 >/dev/null; ipcs -m | grep -c '^0x'; ls /dev/shm; echo inside > /dev/shm/${shmName}-inside`;
    const r = await run(U, ['run', '--ipcns', '--', 'sh', '-c', script]);
    t.is(r.code, 0, r.stderr);
    const [before, after, ...shm] = lines(r.stdout);
    t.is(before, '0', 'no segment of the host is visible');
    t.is(after, '1', 'a segment made inside is');
    t.deepEqual(shm, [], '/dev/shm inside is empty');
    t.false(existsSync(`/dev/shm/${shmName}-inside`), 'a file made in /dev/shm inside stays inside');
    const hostSegments = execFileSync('ipcs', ['-m'], { encoding: 'utf8' });
    t.regex(hostSegments, new RegExp(`\\b${hostId}\\b`));
    const without = await run(U, ['run', '--', 'sh', '-c', `ls /dev/shm | grep -c ${shmName}-host`]);
    t.is(without.stdout.trim(), '1', 'without --ipcns /dev/shm is the host one');
  } finally {
    execFileSync('ipcrm', ['-m', hostId]);
    rmSync(`/dev/shm/${shmName}-host`, { force: true });
    rmSync(`/dev/shm/${shmName}-inside`, { force: true });
  }
});

e2e('--cgroupns: the session sees its cgroups as /', async (t) => {
  const r = await run(U, ['run', '--cgroupns', '--', 'cat', '/proc/self/cgroup']);
  t.is(r.code, 0, r.stderr);
  const cg = lines(r.stdout);
  t.true(cg.length > 0);
  for (const l of cg) t.regex(l, /^\d+:[^:]*:\/$/, l);
  t.true(cg.includes('0::/'));
});

e2e('--evacuate-cgroup2 without a delegated cgroup v2: one clear line, exit 125, nothing started', async (t) => {
  const tmp = userDir('rootless-iso-evac-', t);
  const r = await run(U, ['run', '--pidns', '--cgroupns', '--evacuate-cgroup2=evac', '--', 'true'], { env: { TMPDIR: tmp, XDG_RUNTIME_DIR: tmp } });
  t.is(r.code, 125, r.stderr);
  t.regex(r.stderr, /--evacuate-cgroup2: (the cgroup .* is not delegated to you|cgroup v2 is not mounted)/);
  t.is(lines(r.stderr).length, 1);
  t.deepEqual(readdirSync(tmp), []);
});

function cgroup2Mount(): string | undefined {
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const dash = l.indexOf(' - ');
    if (dash > 0 && l.slice(dash + 3).startsWith('cgroup2 ')) return l.split(' ')[4];
  }
  return undefined;
}

const cgroup2 = cgroup2Mount();
const withDelegation = e2eUnless(!asRoot ? 'delegating a cgroup to the test user needs root' : cgroup2 === undefined ? 'cgroup v2 is not mounted' : undefined);

withDelegation('--evacuate-cgroup2 in a delegated group: the session lands in NAME and sees its group at /sys/fs/cgroup', async (t) => {
  const mp = cgroup2!;
  const group = join(mp, `rootless-iso-${process.pid}`);
  mkdirSync(group);
  try {
    for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) chownSync(join(group, f), U.uid, U.gid);
    // The launcher starts in the group: the shell waits until root moved it there.
    const script = `read x; exec ${BIN} run --pidns --cgroupns --evacuate-cgroup2=evac --net=none -- sh -c 'grep ^0:: /proc/self/cgroup; stat -f -c %T /sys/fs/cgroup; wc -l < /sys/fs/cgroup/cgroup.procs; test -d /sys/fs/cgroup/evac && echo has-evac'`;
    const child = start(U, ['-c', script], { bin: '/bin/sh', keepStdin: true });
    const done = collect(child);
    writeFileSync(join(group, 'cgroup.procs'), String(child.pid));
    child.stdin!.end('go\n');
    const r = await done;
    t.is(r.code, 0, r.stderr);
    t.deepEqual(lines(r.stdout), ['0::/evac', 'cgroup2fs', '0', 'has-evac']);
  } finally {
    for (const g of [join(group, 'evac'), group]) {
      await eventually(async () => {
        try {
          rmdirSync(g);
          return true;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'ENOENT';
        }
      }, 30_000);
    }
  }
});

// ---- sysfs ------------------------------------------------------------------------

e2e('a new network namespace gets a fresh /sys: /sys/class/net lists only its devices, /sys/fs/cgroup stays', async (t) => {
  const hostNet = readdirSync('/sys/class/net').sort();
  const hostCgroup = readdirSync('/sys/fs/cgroup').sort();
  const r = await run(U, ['run', '--net=none', '--', 'sh', '-c', 'ls /sys/class/net; echo --; ls /sys/fs/cgroup; echo --; grep -c " /sys rw,nosuid,nodev,noexec" /proc/self/mountinfo']);
  t.is(r.code, 0, r.stderr);
  const [net, cgroup, fresh] = r.stdout.split('--\n').map(lines);
  t.deepEqual(net, ['lo']);
  if (hostNet.length === 1) t.log('the host has only lo: the listing alone cannot tell the two apart');
  t.deepEqual(cgroup!.sort(), hostCgroup, '/sys/fs/cgroup is the host one');
  t.deepEqual(fresh, ['1'], 'one fresh sysfs on /sys');
  // Other work on the machine (another test run's veth pairs) may add or
  // remove host interfaces meanwhile: what is there before and after the
  // session must be listed, and nothing that is in neither.
  const before = new Set(readdirSync('/sys/class/net'));
  const host = lines((await run(U, ['run', '--', 'ls', '/sys/class/net'])).stdout);
  const after = new Set(readdirSync('/sys/class/net'));
  const stayed = [...before].filter((n) => after.has(n)).sort();
  t.deepEqual(host.filter((n) => before.has(n) && after.has(n)).sort(), stayed, 'with the host network /sys is the host one');
  t.deepEqual(host.filter((n) => !before.has(n) && !after.has(n)), [], 'and lists no device the host does not have');
});

// ---- copy-up ---------------------------------------------------------------------

e2e('--copy-up=/etc: a tmpfs of symlinks into a bind of the original; files replaceable; the host untouched', async (t) => {
  const hostHosts = readFileSync('/etc/hosts', 'utf8');
  const hostResolv = existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : undefined;
  const script = [
    'grep " /etc" /proc/self/mountinfo',
    'echo --',
    'readlink /etc/passwd; grep -c "^root:" /etc/passwd',
    'rm /etc/hosts && echo "10.9.8.7 replaced" > /etc/hosts && cat /etc/hosts',
    'rm -f /etc/resolv.conf && echo "nameserver 10.9.8.6" > /etc/resolv.conf && cat /etc/resolv.conf',
    'echo new > /etc/rootless-new-file && cat /etc/rootless-new-file',
  ].join('; ');
  const r = await run(U, ['run', '--copy-up=/etc', '--', 'sh', '-c', script]);
  t.is(r.code, 0, r.stderr);
  const [mounts, rest] = r.stdout.split('--\n');
  const m = lines(mounts!);
  t.true(m.some((l) => / \/etc rw.* - tmpfs /.test(l)), `a tmpfs on /etc: ${mounts}`);
  const hidden = m.map((l) => / (\/etc\/\.ro[a-z0-9]+) /.exec(l)?.[1]).find((x) => x !== undefined);
  t.truthy(hidden, 'the original is bound at /etc/.roXXXX');
  const [link, roots, hosts, resolv, added] = lines(rest!);
  t.is(link, `${hidden!.slice('/etc/'.length)}/passwd`, 'entries are relative symlinks into the bind');
  t.is(roots, '1');
  t.is(hosts, '10.9.8.7 replaced');
  t.is(resolv, 'nameserver 10.9.8.6');
  t.is(added, 'new');
  t.is(readFileSync('/etc/hosts', 'utf8'), hostHosts, 'the host /etc/hosts is unchanged');
  if (hostResolv !== undefined) t.is(readFileSync('/etc/resolv.conf', 'utf8'), hostResolv);
  t.false(existsSync('/etc/rootless-new-file'));
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes('/etc/.ro'), 'no mount reached the host');
});

e2e('--copy-up of several directories (one of them /tmp, which RootlessKit cannot) and a user directory', async (t) => {
  const dir = userDir('rootless-iso-copyup-', t);
  writeFileSync(join(dir, 'f'), 'original\n');
  chmodSync(join(dir, 'f'), 0o644);
  if (U.switchTo) chownSync(join(dir, 'f'), U.uid, U.gid);
  const script = `rm ${dir}/f && echo replaced > ${dir}/f && cat ${dir}/f; touch /tmp/rootless-iso-copyup-${process.pid}; cat /etc/hostname >/dev/null && echo etc-ok`;
  const r = await run(U, ['run', '--copy-up=/etc', `--copy-up=${dir}`, '--copy-up=/tmp', '--', 'sh', '-c', script]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(lines(r.stdout), ['replaced', 'etc-ok']);
  t.is(readFileSync(join(dir, 'f'), 'utf8'), 'original\n');
  t.false(existsSync(`/tmp/rootless-iso-copyup-${process.pid}`), '/tmp inside is the copied-up one');
});

// ---- bad input --------------------------------------------------------------------

for (const [what, args, pattern] of [
  ['a relative --copy-up', ['--copy-up=etc'], /--copy-up: "etc" is not an absolute path/],
  ['--copy-up=/', ['--copy-up=/'], /--copy-up: "\/" must not be the root directory/],
  ['a --copy-up that does not exist', ['--copy-up=/no/such/dir'], /--copy-up: "\/no\/such\/dir" does not exist/],
  ['a --copy-up that is a file', ['--copy-up=/etc/passwd'], /--copy-up: "\/etc\/passwd" is not a directory/],
  ['a --copy-up given twice', ['--copy-up=/etc', '--copy-up=/etc/'], /--copy-up: "\/etc" is given twice/],
  ['--reaper=true without --pidns', ['--reaper=true'], /--reaper=true requires --pidns/],
  ['--evacuate-cgroup2 without --pidns', ['--cgroupns', '--evacuate-cgroup2=e'], /requires --pidns and --cgroupns \(missing --pidns\)/],
  ['--evacuate-cgroup2 without --cgroupns', ['--pidns', '--evacuate-cgroup2=e'], /requires --pidns and --cgroupns \(missing --cgroupns\)/],
  ['--name with --state-dir', ['--name=x', '--state-dir=/tmp/x'], /--name=x cannot be used with --state-dir/],
] as const) {
  e2e(`bad input is refused before anything starts: ${what}`, async (t) => {
    const tmp = userDir('rootless-iso-bad-', t);
    const r = await run(U, ['run', ...args, '--', 'true'], { env: { TMPDIR: tmp, XDG_RUNTIME_DIR: tmp } });
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, pattern);
    t.is(lines(r.stderr).length, 1, r.stderr);
    t.deepEqual(readdirSync(tmp), [], 'nothing left behind');
  });
}

// ---- socket activation -------------------------------------------------------

/** The target: answers one connection on the activated socket with what it was given. */
const ACTIVATED_SERVER = `
const net = require('net');
const fs = require('fs');
const info = { pid: process.pid, env: { LISTEN_PID: process.env.LISTEN_PID, LISTEN_FDS: process.env.LISTEN_FDS, LISTEN_FDNAMES: process.env.LISTEN_FDNAMES }, fds: fs.readdirSync('/proc/self/fd').length };
const srv = net.createServer((c) => { c.end(JSON.stringify(info) + '\\n'); srv.close(); });
srv.listen({ fd: 3 });
`;

function ask(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const s = connect(port, '127.0.0.1');
    s.setEncoding('utf8').on('data', (d: string) => (data += d)).on('end', () => resolve(data)).on('error', reject);
  });
}

for (const [label, flags] of [
  ['with --pidns and --net=none', ['--pidns', '--net=none']],
  ['with the host pid namespace', []],
] as const) {
  e2e(`socket activation (systemd-socket-activate) ${label}: the target gets fd 3 and LISTEN_PID of its own`, async (t) => {
    const dir = userDir('rootless-iso-act-', t);
    const server = join(dir, 'server.cjs');
    writeFileSync(server, ACTIVATED_SERVER);
    chmodSync(server, 0o644);
    const { answer, r } = await withPorts(1, async ([port]) => {
      const child = start(U, ['-l', `127.0.0.1:${port}`, '--fdname=web', BIN, 'run', ...flags, '--', process.execPath, server], {
        bin: 'systemd-socket-activate',
      });
      const done = collect(child);
      // systemd-socket-activate listens, and execs us at the first connection.
      const listening = await waitFor(child.stderr!, /Listening on/).then(() => true, () => false);
      if (!listening) {
        const failed = await done;
        if (clashOn(failed.stderr, [port!])) throw new PortClash(failed.stderr);
        throw new Error(`systemd-socket-activate did not listen: ${failed.code} ${failed.stderr}`);
      }
      const answer = JSON.parse(await ask(port!)) as { pid: number; env: Record<string, string>; fds: number };
      return { answer, r: await done };
    });
    t.is(r.code, 0, r.stderr);
    t.is(answer.env.LISTEN_PID, String(answer.pid), 'LISTEN_PID is the target itself');
    t.is(answer.env.LISTEN_FDS, '1');
    t.is(answer.env.LISTEN_FDNAMES, 'web');
    if (flags.length > 0) t.true(answer.pid < 100, 'a pid of the namespace');
  });
}

// ---- hygiene: nothing survives a session that ends badly --------------------

interface Session extends RunningSession {
  stateDir: string;
  /** On the target's command line. */
  marker: string;
  /** On a process the target started in the background: an orphan once the target dies. */
  orphan: string;
}

/** A session in the default state dir whose target runs `sleep MARKER` and left `sleep ORPHAN` in the background. */
async function session(t: ExecutionContext, flags: string[], env: Record<string, string> = {}): Promise<Session> {
  const m = marker();
  const o = marker();
  const s = await startSession(t, {
    state: 'default',
    flags,
    env,
    command: ['sh', '-c', `echo "state=$ROOTLESSKIT_STATE_DIR"; sleep ${o} & exec sleep ${m}`],
    ready: /state=\S+\n/,
  });
  await eventually(async () => pidsWith(m).length > 0 && pidsWith(o).length > 0, 30_000);
  return { ...s, stateDir: /state=(\S+)/.exec(s.early)![1]!, marker: m, orphan: o };
}

async function nothingLeft(t: ExecutionContext, s: Session, extraPids: number[] = []): Promise<void> {
  t.true(await eventually(async () => pidsWith(s.marker).length === 0, 30_000), 'the target is gone');
  t.true(await eventually(async () => pidsWith(s.orphan).length === 0, 30_000), 'what the target started is gone');
  for (const pid of extraPids) t.true(await eventually(async () => !(await alive(pid)), 30_000), `process ${pid} is gone`);
  t.true(await eventually(async () => !existsSync(s.stateDir), 30_000), `the state dir ${s.stateDir} is gone`);
}

for (const flags of [['--pidns', '--copy-up=/etc', '--net=none'], []]) {
  const label = flags.length > 0 ? flags.join(' ') : 'no namespace flags';
  e2e(`hygiene (${label}): the launcher SIGKILLed leaves no process and no state dir`, async (t) => {
    const s = await session(t, flags);
    const childPid = Number(readFileSync(join(s.stateDir, 'child_pid'), 'utf8'));
    s.child.kill('SIGKILL');
    await s.done;
    await nothingLeft(t, s, [childPid]);
  });

  // Without flags the child would become the target (src/parent/plan.ts): keep it, to kill it.
  e2e(`hygiene (${label}): the child killed: the launcher fails clearly, nothing left`, async (t) => {
    const s = await session(t, flags, flags.length === 0 ? { ROOTLESS_KEEP_CHILD: '1' } : {});
    const childPid = Number(readFileSync(join(s.stateDir, 'child_pid'), 'utf8'));
    process.kill(childPid, 'SIGKILL');
    const r = await s.done;
    t.is(r.code, 125, r.stderr);
    t.regex(r.stderr, /the child process was killed by signal 9/);
    await nothingLeft(t, s);
  });

  e2e(`hygiene (${label}): the target killed: exit 137, nothing left`, async (t) => {
    const s = await session(t, flags);
    for (const pid of pidsWith(s.marker)) process.kill(pid, 'SIGKILL');
    const r = await s.done;
    t.is(r.code, 137, r.stderr);
    await nothingLeft(t, s);
  });
}

e2e('a normal end: what the target left running in the background does not outlive the session', async (t) => {
  const o = marker();
  const r = await run(U, ['run', '--', 'sh', '-c', `sleep ${o} & echo started`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'started\n');
  t.true(await eventually(async () => pidsWith(o).length === 0, 30_000), 'the background process was killed');
});

e2e('the launcher SIGKILLed early in the start: the default state dir is removed too', async (t) => {
  const tmp = userDir('rootless-iso-kill-', t);
  const m = marker();
  const child = spawn(BIN, ['run', '--pidns', '--', 'sleep', m], {
    env: { PATH: process.env.PATH, HOME: U.home, TMPDIR: tmp, ...(process.env.ROOTLESS_NODE ? { ROOTLESS_NODE: process.env.ROOTLESS_NODE } : {}) },
    stdio: 'ignore',
    ...(U.switchTo ? { uid: U.switchTo.uid, gid: U.switchTo.gid } : {}),
  });
  // child_pid is written once the id maps are: the state dir is complete.
  await eventually(async () => readdirSync(tmp).some((d) => existsSync(join(tmp, d, 'child_pid'))), 30_000);
  child.kill('SIGKILL');
  await new Promise((res) => child.on('close', res));
  t.true(await eventually(async () => readdirSync(tmp).length === 0, 30_000), `left: ${readdirSync(tmp).join(', ')}`);
  t.true(await eventually(async () => pidsWith(m).length === 0, 30_000), 'no target left');
});
