// Unit tests of the isolation flags' validation and of the pure parts of
// their machinery (no namespaces: the kernel is faked where needed).
import test from 'ava';
import type { Stats } from 'node:fs';
import { defaultRunOptions, validateRunOptions, type RunOptions } from '../../src/cli/options.js';
import { ExitCode, RootlessError, SyscallError, UsageError } from '../../src/sys/errors.js';
import { checkCopyUpDirs } from '../../src/parent/isolation.js';
import { activatedFds, MAX_LISTEN_FDS } from '../../src/parent/activation.js';
import { cgroup2Membership, cgroup2Mounts, checkDelegated, locateCgroup2 } from '../../src/parent/cgroup.js';
import { parseExecArgv } from '../../src/cli/exec.js';
import { formatAge, formatTable, psRows } from '../../src/cli/ps.js';
import { namespaceList, parseSessionRecord, recordEnvironment, SESSION_RECORD_VERSION } from '../../src/parent/sessions.js';
import { targetActivation } from '../../src/child/activation.js';
import { hiddenName } from '../../src/child/copyup.js';
import { mountFresh, type MountFn } from '../../src/child/mounts.js';
import { mountFlags } from '../../src/sys/native.js';
import type { ChildLogger } from '../../src/child/log.js';

function opts(o: Partial<RunOptions>): RunOptions {
  return { ...defaultRunOptions(['x']), ...o };
}

function refused(t: import('ava').ExecutionContext, o: Partial<RunOptions>, message: RegExp): void {
  const err = t.throws(() => validateRunOptions(opts(o)), { instanceOf: UsageError });
  t.regex(err!.message, message);
  t.is(err!.exitCode, ExitCode.Usage);
}

// ---- cross-flag rules ------------------------------------------------------------

test('--reaper=true needs --pidns; auto and false do not', (t) => {
  refused(t, { reaper: 'true' }, /^--reaper=true requires --pidns$/);
  t.notThrows(() => validateRunOptions(opts({ reaper: 'true', pidns: true })));
  t.notThrows(() => validateRunOptions(opts({ reaper: 'false' })));
  t.notThrows(() => validateRunOptions(opts({ reaper: 'auto' })));
});

test('--evacuate-cgroup2 needs --pidns and --cgroupns, and names what is missing', (t) => {
  refused(t, { evacuateCgroup2: 'e' }, /missing --pidns and --cgroupns\)$/);
  refused(t, { evacuateCgroup2: 'e', pidns: true }, /missing --cgroupns\)$/);
  refused(t, { evacuateCgroup2: 'e', cgroupns: true }, /missing --pidns\)$/);
  t.notThrows(() => validateRunOptions(opts({ evacuateCgroup2: 'e', pidns: true, cgroupns: true })));
  refused(t, { evacuateCgroup2: '../up', pidns: true, cgroupns: true }, /is not a cgroup sub-group name/);
});

test('--copy-up: relative, /, duplicates (after normalizing) are refused', (t) => {
  refused(t, { copyUp: ['etc'] }, /"etc" is not an absolute path/);
  refused(t, { copyUp: ['/'] }, /must not be the root directory/);
  refused(t, { copyUp: ['/etc', '/etc/'] }, /"\/etc" is given twice/);
  refused(t, { copyUp: ['/a/../etc', '/etc'] }, /"\/etc" is given twice/);
  t.deepEqual(validateRunOptions(opts({ copyUp: ['/etc/', '/run'] })).copyUp, ['/etc', '/run']);
});

test('--name cannot be combined with --state-dir', (t) => {
  refused(t, { name: 'web', stateDir: '/tmp/s' }, /^--name=web cannot be used with --state-dir/);
  t.notThrows(() => validateRunOptions(opts({ name: 'web' })));
});

// ---- checks against the file system (faked) ---------------------------------------

function fakeStat(table: Record<string, 'dir' | 'file' | string>): (p: string) => Stats {
  return (p) => {
    const kind = table[p];
    if (kind === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    if (kind !== 'dir' && kind !== 'file') throw Object.assign(new Error('nope'), { code: kind });
    return { isDirectory: () => kind === 'dir' } as Stats;
  };
}

test('copy-up directories must exist and be directories (checked before anything starts)', (t) => {
  const stat = fakeStat({ '/etc': 'dir', '/etc/passwd': 'file', '/secret': 'EACCES' });
  t.notThrows(() => checkCopyUpDirs(['/etc'], stat));
  const missing = t.throws(() => checkCopyUpDirs(['/etc', '/nope'], stat), { instanceOf: UsageError });
  t.is(missing!.message, '--copy-up: "/nope" does not exist');
  t.is(t.throws(() => checkCopyUpDirs(['/etc/passwd'], stat))!.message, '--copy-up: "/etc/passwd" is not a directory');
  t.is(t.throws(() => checkCopyUpDirs(['/secret'], stat))!.message, '--copy-up: "/secret" cannot be read (EACCES)');
});

// ---- socket activation --------------------------------------------------------------

test('socket activation: only variables naming this pid count; fds 3.. must be open', (t) => {
  const open = (fd: number): boolean => fd < 6;
  t.deepEqual(activatedFds({}, 42, open), []);
  t.deepEqual(activatedFds({ LISTEN_PID: '41', LISTEN_FDS: '2' }, 42, open), [], 'another process was activated');
  t.deepEqual(activatedFds({ LISTEN_PID: '42', LISTEN_FDS: '2' }, 42, open), [3, 4]);
  t.deepEqual(activatedFds({ LISTEN_PID: '42', LISTEN_FDS: '0' }, 42, open), []);
  const closed = t.throws(() => activatedFds({ LISTEN_PID: '42', LISTEN_FDS: '4' }, 42, open), { instanceOf: RootlessError });
  t.regex(closed!.message, /LISTEN_FDS=4, but fd 6 is not open/);
  t.throws(() => activatedFds({ LISTEN_PID: '42', LISTEN_FDS: 'x' }, 42, open), { message: /LISTEN_FDS="x" is not a number/ });
  t.throws(() => activatedFds({ LISTEN_PID: '42', LISTEN_FDS: String(MAX_LISTEN_FDS + 1) }, 42, () => true));
});

test('socket activation, child side: fds from 6 go to 3.., LISTEN_FDS set, LISTEN_PID left to the addon', (t) => {
  const env = ['PATH=/bin', 'LISTEN_PID=99', 'LISTEN_FDS=2', 'LISTEN_FDNAMES=a:b'].map((e) => Buffer.from(e));
  const a = targetActivation({ listenFds: 2 }, env);
  t.deepEqual(a.fds, [6, 7]);
  t.true(a.listenPidEnv);
  t.deepEqual(a.env.map(String), ['PATH=/bin', 'LISTEN_FDNAMES=a:b', 'LISTEN_FDS=2']);
  const none = targetActivation({}, env);
  t.deepEqual(none, { fds: [], env, listenPidEnv: false }, 'not activated: the variables pass untouched');
});

// ---- cgroup2 ---------------------------------------------------------------------------

const HYBRID = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const UNIFIED_NS = '29 23 0:26 /user.slice /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw';

test('cgroup2: mounts and membership are read from mountinfo and /proc/self/cgroup', (t) => {
  t.deepEqual(cgroup2Mounts(HYBRID), [['/', '/sys/fs/cgroup/unified']]);
  t.deepEqual(cgroup2Mounts('1 2 0:1 / /a\\040b rw - cgroup2 none rw'), [['/', '/a b']]);
  t.is(cgroup2Membership('4:memory:/x\n0::/user.slice/a\n'), '/user.slice/a');
  t.deepEqual(locateCgroup2(HYBRID, '0::/\n'), { group: '/', path: '/sys/fs/cgroup/unified' });
  t.deepEqual(locateCgroup2(HYBRID, '0::/a/b\n'), { group: '/a/b', path: '/sys/fs/cgroup/unified/a/b' });
  t.deepEqual(locateCgroup2(UNIFIED_NS, '0::/user.slice/u.service\n'), { group: '/user.slice/u.service', path: '/sys/fs/cgroup/u.service' });
  t.throws(() => locateCgroup2('', '0::/\n'), { message: /cgroup v2 is not mounted/ });
  t.throws(() => locateCgroup2(UNIFIED_NS, '0::/system.slice\n'), { message: /is not under any cgroup2 mount/ });
});

test('cgroup2: a group that is not writable is "not delegated", naming the file', (t) => {
  const g = { group: '/a', path: '/sys/fs/cgroup/a' };
  t.notThrows(() => checkDelegated(g, () => true));
  const err = t.throws(() => checkDelegated(g, (p) => !p.endsWith('cgroup.procs')), { instanceOf: RootlessError });
  t.is(err!.message, '--evacuate-cgroup2: the cgroup /a is not delegated to you (/sys/fs/cgroup/a/cgroup.procs is not writable)');
  t.is(err!.exitCode, ExitCode.LauncherFailed);
});

// ---- mounts -------------------------------------------------------------------------------

function fakeLog(): ChildLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (m: string) => void warnings.push(m), debug: () => {}, info: () => {}, enabled: () => true } as unknown as ChildLogger & {
    warnings: string[];
  };
}

test('a fresh proc/sysfs falls back to read-only with a warning, then to none with a warning', (t) => {
  const eperm = (): never => {
    throw new SyscallError('mount', 1, 'EPERM', '/proc');
  };
  const calls: number[] = [];
  const rwRefused: MountFn = (_s, _t, _f, flags) => {
    calls.push(flags);
    if (!(flags & mountFlags.MS_RDONLY)) eperm();
  };
  const log = fakeLog();
  t.is(mountFresh('proc', '/proc', log, rwRefused), 'ro');
  t.true(Boolean(calls[1]! & mountFlags.MS_RDONLY));
  t.true(Boolean(calls[0]! & mountFlags.MS_NOSUID) && Boolean(calls[0]! & mountFlags.MS_NOEXEC));
  t.regex(log.warnings[0]!, /read-write was refused \(EPERM\); falling back to read-only/);
  const log2 = fakeLog();
  t.is(mountFresh('sysfs', '/sys', log2, eperm), 'none');
  t.is(log2.warnings.length, 2);
  t.is(mountFresh('proc', '/proc', fakeLog(), () => {}), 'rw');
  t.throws(() => mountFresh('proc', '/proc', fakeLog(), () => {
    throw new TypeError('bug');
  }), { instanceOf: TypeError }, 'only kernel refusals are tolerated');
});

test('copy-up: the hidden bind is .ro and 8 random characters (RootlessKit: .roNNN)', (t) => {
  t.regex(hiddenName(), /^\.ro[a-z0-9]{8}$/);
  t.is(hiddenName(() => 0), '.roaaaaaaaa');
});

// ---- exec and ps ------------------------------------------------------------------------

test('rootless exec argv: SESSION or --state-dir, then the command (-- optional)', (t) => {
  t.deepEqual(parseExecArgv(['web', '--', 'sh', '-c', 'x']), { session: 'web', command: ['sh', '-c', 'x'] });
  t.deepEqual(parseExecArgv(['web', 'id', '-u']), { session: 'web', command: ['id', '-u'] });
  t.deepEqual(parseExecArgv(['--state-dir', '/s/./d', 'id']), { stateDir: '/s/d', command: ['id'] });
  t.deepEqual(parseExecArgv(['--state-dir=/s', '--', '-weird']), { stateDir: '/s', command: ['-weird'] });
  t.deepEqual(parseExecArgv(['--', 'id']), { command: ['id'] });
  t.deepEqual(parseExecArgv(['-h']), { help: true });
  t.throws(() => parseExecArgv(['web']), { message: /missing command/ });
  t.throws(() => parseExecArgv(['--state-dir=rel', 'id']), { message: /--state-dir: "rel" is not an absolute path/ });
  t.throws(() => parseExecArgv(['--state-dir']), { message: /--state-dir: missing value/ });
  t.throws(() => parseExecArgv(['-x', 'id']), { message: /unknown flag -x/ });
  t.throws(() => parseExecArgv(['../up', 'id']), { message: /not a valid session name/ });
  t.throws(() => parseExecArgv(['web', '--state-dir=/s', 'id']), { message: /not both/ });
  t.deepEqual(parseExecArgv(['web', 'ls', '--state-dir']), { session: 'web', command: ['ls', '--state-dir'] });
});

test('rootless ps: rows and table', (t) => {
  t.is(formatAge(999), '0s');
  t.is(formatAge(61_000), '1m');
  t.is(formatAge(2 * 3600_000 + 5), '2h');
  t.is(formatAge(3 * 86400_000), '3d');
  const record = {
    version: SESSION_RECORD_VERSION, name: 'web', pid: 10, childPid: 11, startedAt: 1_000, namespaces: namespaceList({ pid: true, net: true, uts: false, ipc: false, cgroup: true }),
    nsInodes: {}, net: 'slirp4netns', portDriver: 'builtin', envB64: [], cwdB64: 'Lw==',
  };
  const rows = psRows([{ state: 'running', dir: '/run/user/1/rootless/web', record }, { state: 'starting', dir: '/x/db' }], 6_000);
  t.is(rows[0]!.age, '5s');
  t.deepEqual(rows[0]!.namespaces, ['user', 'mnt', 'net', 'pid', 'cgroup']);
  t.is(rows[1]!.age, 'starting');
  const table = formatTable(rows).split('\n');
  t.regex(table[0]!, /^NAME\s+PID\s+AGE\s+NAMESPACES\s+NET\s+PORTS$/);
  t.regex(table[1]!, /^web\s+10\s+5s\s+user,mnt,net,pid,cgroup\s+slirp4netns\s+builtin$/);
  t.regex(table[2]!, /^db\s+-\s+starting\s+-\s+-\s+-$/);
});

test('session record: activation, notify and watchdog variables are not recorded; bad records are refused', (t) => {
  const rec = (l: string[]): string[] => recordEnvironment(l.map((e) => Buffer.from(e))).map(String);
  t.deepEqual(rec(['A=1', 'LISTEN_PID=3', 'LISTEN_FDS=1', 'LISTEN_FDNAMES=x', 'LISTEN_X=2']), ['A=1', 'LISTEN_X=2']);
  t.deepEqual(rec(['NOTIFY_SOCKET=/s/notify.sock', 'WATCHDOG_USEC=1', 'WATCHDOG_PID=2', 'NOTIFY_SOCKETS=3']), ['NOTIFY_SOCKETS=3']);
  t.throws(() => parseSessionRecord('{', 'f'), { message: /not valid JSON/ });
  t.throws(() => parseSessionRecord('{"version":99}', 'f'), { message: /not a session record of this version/ });
  const ok = { version: SESSION_RECORD_VERSION, pid: 1, childPid: 2, startedAt: 3, namespaces: ['user'], nsInodes: {}, net: 'host', portDriver: 'none', envB64: [], cwdB64: 'Lw==' };
  t.is(parseSessionRecord(JSON.stringify(ok), 'f').childPid, 2);
});

test('copy-up links (addon): an entry of the hidden bind becomes a relative symlink; a symlink keeps its target', async (t) => {
  const { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, readlinkSync, readFileSync, rmSync, readdirSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { linkEntries } = await import('../../src/sys/native.js');
  const dir = mkdtempSync(`${tmpdir()}/rootless-unit-copyup-`);
  try {
    mkdirSync(`${dir}/.rox/sub`, { recursive: true });
    writeFileSync(`${dir}/.rox/hosts`, 'h\n');
    symlinkSync('../run/resolv.conf', `${dir}/.rox/resolv.conf`);
    t.is(linkEntries(dir, '.rox'), 3);
    t.deepEqual(readdirSync(dir).sort(), ['.rox', 'hosts', 'resolv.conf', 'sub']);
    t.is(readlinkSync(`${dir}/hosts`), '.rox/hosts');
    t.is(readFileSync(`${dir}/hosts`, 'utf8'), 'h\n');
    t.is(readlinkSync(`${dir}/sub`), '.rox/sub');
    t.is(readlinkSync(`${dir}/resolv.conf`), '../run/resolv.conf');
    const again = t.throws(() => linkEntries(dir, '.rox'));
    t.regex(again!.message, /EEXIST/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
