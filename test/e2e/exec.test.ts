// End-to-end: `rootless exec` into a running session, `--name` and
// `rootless ps`, with the real launcher as the unprivileged test user.
// Every test gets its own XDG_RUNTIME_DIR, so `ps` sees only its sessions.
import { type ExecutionContext } from 'ava';
import { existsSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, PortClash, TARGET, U, clashOn, collect, e2e, eventually, exchange, lines, refused, run, session as startSession, start, userDir, waitFor, withPorts, type Session } from '../helpers/e2e.js';

const NS = ['user', 'mnt', 'net', 'pid', 'uts', 'ipc', 'cgroup'];
const READ_NS = NS.map((n) => `readlink /proc/self/ns/${n}`).join('; ');

interface Running extends Session {
  runtime: string;
  name: string;
}

/** A named session (in an XDG_RUNTIME_DIR of its own) whose target prints its namespaces, then sleeps until stopped. */
async function session(t: ExecutionContext, flags: string[], env: Record<string, string> = {}): Promise<Running> {
  const s = await startSession(t, { state: 'named', flags, env, command: ['sh', '-c', `${READ_NS}; echo ready; exec sleep 600`] });
  // The record is written once the parent knows the target runs.
  await eventually(async () => existsSync(join(s.stateDir!, 'session.json')), 30_000);
  return { ...s, name: s.name!, early: s.early.replace(/ready\n$/, '') };
}

const ALL = ['--pidns', '--net=none', '--utsns', '--ipcns', '--cgroupns', '--copy-up=/etc'];

e2e('rootless exec runs in the same namespaces as the target (user, mnt, net, pid, uts, ipc, cgroup)', async (t) => {
  const s = await session(t, ALL);
  const r = await s.exec([s.name, '--', 'sh', '-c', READ_NS]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(lines(r.stdout), lines(s.early));
  // And not the host's.
  const host = NS.map((n) => readlinkSync(`/proc/self/ns/${n}`));
  for (const [i, l] of lines(r.stdout).entries()) t.not(l, host[i], `${NS[i]} is the session's own`);
  await s.stop();
});

e2e('rootless exec: uid 0, the session environment, the pid namespace, copied-up files, the exit code', async (t) => {
  const s = await session(t, ALL, { ROOTLESS_SESSION_VAR: 'from the session' });
  const script = [
    'id -u',
    'echo "$ROOTLESS_SESSION_VAR|${ROOTLESS_CALLER_VAR-unset}"',
    'ps -e -o pid=,comm= | grep -c " sleep$"',
    'ps -e -o pid=,comm= | head -1 | tr -s " " | sed "s/^ //"',
    'hostname exec-set-it',
    'echo "10.1.1.1 from-exec" > /etc/hosts.exec && cat /etc/hosts.exec',
    'exit 7',
  ].join('; ');
  const r = await s.exec([s.name, '--', 'sh', '-c', script], { ROOTLESS_CALLER_VAR: 'from the caller' });
  t.is(r.code, 7, r.stderr);
  t.deepEqual(lines(r.stdout), ['0', 'from the session|unset', '1', '1 node', '10.1.1.1 from-exec']);
  // A second exec sees what the first one changed: one session.
  const again = await s.exec([s.name, 'sh', '-c', 'hostname; cat /etc/hosts.exec']);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(lines(again.stdout), ['exec-set-it', '10.1.1.1 from-exec']);
  t.false(existsSync('/etc/hosts.exec'));
  await s.stop();
});

e2e('rootless exec: killed by a signal -> 128+N; not found -> 127; the only session is the default', async (t) => {
  const s = await session(t, ['--pidns']);
  const killed = await s.exec(['--', 'sh', '-c', 'kill -9 $$']);
  t.is(killed.code, 137, killed.stderr);
  const missing = await s.exec([s.name, '--', 'no-such-command-xyz']);
  t.is(missing.code, 127);
  t.regex(missing.stderr, /no-such-command-xyz.*not found/);
  t.is(lines(missing.stderr).length, 1);
  await s.stop();
});

e2e('rootless exec forwards signals to the command', async (t) => {
  const s = await session(t, ['--pidns', '--net=none']);
  const child = start(U, ['exec', s.name, '--', 'sh', '-c', 'trap "echo got-TERM; exit 9" TERM; echo ready; while :; do sleep 0.05; done'], {
    env: { XDG_RUNTIME_DIR: s.runtime },
  });
  const done = collect(child);
  await waitFor(child.stdout!, /ready/);
  child.kill('SIGTERM');
  const r = await done;
  t.is(r.code, 9, r.stderr);
  t.regex(r.stdout, /got-TERM/);
  await s.stop();
});

e2e('rootless exec --state-dir enters an unnamed session', async (t) => {
  const parent = userDir('rootless-exec-state-', t);
  const dir = join(parent, 'st');
  const child = start(U, ['run', `--state-dir=${dir}`, '--net=none', '--', 'sh', '-c', 'readlink /proc/self/ns/net; echo ready; exec sleep 600']);
  const done = collect(child);
  const out = await waitFor(child.stdout!, /ready\n/);
  await eventually(async () => existsSync(join(dir, 'session.json')), 30_000);
  const r = await run(U, ['exec', `--state-dir=${dir}`, '--', 'readlink', '/proc/self/ns/net']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, out.replace(/ready\n$/, ''));
  child.kill('SIGTERM');
  await done;
  const after = await run(U, ['exec', `--state-dir=${dir}`, '--', 'true']);
  t.is(after.code, 125);
  t.regex(after.stderr, /no session is running/);
});

e2e('rootless ps lists named sessions (name, pid, age, namespaces, drivers) until they end', async (t) => {
  const s = await session(t, ['--pidns', '--net=none', '--utsns']);
  const table = await run(U, ['ps'], { env: { XDG_RUNTIME_DIR: s.runtime } });
  t.is(table.code, 0, table.stderr);
  const [header, row] = lines(table.stdout);
  t.regex(header!, /^NAME\s+PID\s+AGE\s+NAMESPACES\s+NET\s+PORTS$/);
  const cols = row!.split(/\s+/);
  t.is(cols[0], s.name);
  t.regex(cols[2]!, /^\d+[smhd]$/);
  t.is(cols[3], 'user,mnt,net,pid,uts');
  t.deepEqual(cols.slice(4), ['none', 'none']);
  const json = await run(U, ['ps', '--json'], { env: { XDG_RUNTIME_DIR: s.runtime } });
  const [entry] = JSON.parse(json.stdout) as { name: string; pid: number; stateDir: string }[];
  t.is(entry!.name, s.name);
  t.is(entry!.pid, Number(cols[1]));
  t.is(entry!.stateDir, join(s.runtime, 'rootless', s.name));
  const r = await s.stop();
  t.is(r.code, 143, r.stderr);
  const after = await run(U, ['ps'], { env: { XDG_RUNTIME_DIR: s.runtime } });
  t.deepEqual(lines(after.stdout).length, 1, 'only the header');
  t.false(existsSync(join(s.runtime, 'rootless', s.name)), 'the named state dir is gone');
});

e2e('rootless exec: bad input and sessions that do not run', async (t) => {
  const runtime = userDir('rootless-exec-bad-', t);
  const env = { XDG_RUNTIME_DIR: runtime };
  const none = await run(U, ['exec', '--', 'true'], { env });
  t.is(none.code, 2);
  t.regex(none.stderr, /no named session is running/);
  const unknown = await run(U, ['exec', 'nosuchsession', '--', 'true'], { env });
  t.is(unknown.code, 125);
  t.regex(unknown.stderr, /^rootless exec: no session is running in nosuchsession\n$/);
  const noCmd = await run(U, ['exec', 'x'], { env });
  t.is(noCmd.code, 2);
  t.regex(noCmd.stderr, /missing command/);
  const badFlag = await run(U, ['exec', '--frobnicate', '--', 'true'], { env });
  t.is(badFlag.code, 2);
  t.regex(badFlag.stderr, /unknown flag --frobnicate/);
  const badName = await run(U, ['exec', '../etc', '--', 'true'], { env });
  t.is(badName.code, 2);
  const help = await run(U, ['exec', '--help'], { env });
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: rootless exec/);
});

e2e('--name: a second session with the same name is refused while the first runs', async (t) => {
  const s = await session(t, []);
  const second = await run(U, ['run', `--name=${s.name}`, '--', 'true'], { env: { XDG_RUNTIME_DIR: s.runtime } });
  t.is(second.code, 125);
  t.regex(second.stderr, /in use by another session/);
  await s.stop();
});

e2e('rootless exec on a terminal: the command leads the foreground group, Ctrl-C reaches it', async (t) => {
  const s = await session(t, ['--pidns']);
  const cmd = `${BIN} exec ${s.name} -- sh -c 'cut -d" " -f1,5,8 /proc/$$/stat; trap "echo got-INT; exit 5" INT; echo ready; while :; do sleep 0.05; done'`;
  const child = start(U, ['-qec', cmd, '/dev/null'], { bin: 'script', keepStdin: true, env: { XDG_RUNTIME_DIR: s.runtime } });
  const done = collect(child);
  const out = await waitFor(child.stdout!, /ready/);
  const [pid, pgrp, tpgid] = out.replace(/\r/g, '').trim().split('\n')[0]!.split(' ');
  t.is(pgrp, pid, 'a process group leader (in the session pid namespace)');
  t.is(tpgid, pgrp, 'owning the terminal');
  child.stdin!.write('\x03');
  const r = await done;
  t.is(r.code, 5, r.stdout);
  t.regex(r.stdout, /got-INT/);
  await s.stop();
});

e2e('a command started with rootless exec does not outlive the session', async (t) => {
  for (const flags of [['--pidns'], []]) {
    const s = await session(t, flags);
    const child = start(U, ['exec', s.name, '--', 'sh', '-c', 'echo ready; exec sleep 600'], { env: { XDG_RUNTIME_DIR: s.runtime } });
    const done = collect(child);
    await waitFor(child.stdout!, /ready/);
    await s.stop();
    const r = await done;
    t.is(r.code, 137, `${flags.join(' ') || 'no --pidns'}: ${r.stderr}`);
  }
});

e2e('rootless info NAME and rootless ports NAME reach the named session: info, add, ls, a connection through the port, rm', async (t) => {
  const s = await startSession(t, { state: 'named', flags: ['--net=slirp4netns', '--port-driver=builtin'], command: [process.execPath, TARGET, 'tcp-echo:80'] });
  const env = { XDG_RUNTIME_DIR: s.runtime };
  const info = await run(U, ['info', s.name!], { env });
  t.is(info.code, 0, info.stderr);
  t.regex(info.stdout, new RegExp(`^State directory:\\s+${s.stateDir!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  t.regex(info.stdout, /^Network driver:\s+slirp4netns/m);
  t.regex(info.stdout, /^Port driver:\s+builtin/m);
  const json = JSON.parse((await run(U, ['info', '--json', s.name!], { env })).stdout) as { stateDir: string; childPID: number };
  t.is(json.stateDir, s.stateDir!);
  await withPorts(1, async ([port]) => {
    const add = await run(U, ['ports', s.name!, 'add', `127.0.0.1:${port}:80/tcp`], { env });
    if (add.code !== 0 && clashOn(add.stderr, [port!])) throw new PortClash(add.stderr);
    t.is(add.code, 0, add.stderr);
    const ls = JSON.parse((await run(U, ['ports', s.name!, '--json', 'ls'], { env })).stdout) as { id: number; spec: { parentPort: number; childPort: number } }[];
    t.is(ls.length, 1);
    t.like(ls[0]!.spec, { parentPort: port, childPort: 80 });
    t.is((await exchange(port!, '127.0.0.1', 'through the named session')).toString(), 'through the named session');
    const rm = await run(U, ['ports', s.name!, 'rm', String(ls[0]!.id)], { env });
    t.is(rm.code, 0, rm.stderr);
    t.true(await refused(port!), 'the port is closed after rm');
  });
  const unknown = await run(U, ['info', 'nosuchsession'], { env });
  t.is(unknown.code, 125, 'as rootless exec NAME');
  t.is(unknown.stderr, 'rootless info: no session named "nosuchsession" (see rootless ps)\n');
  await s.stop();
});
