// --evacuate-cgroup2, the parent's half (RootlessKit's, from usernetes):
// cgroup v2 lets a group enable controllers for its sub-groups only while
// it holds no processes itself. So every process of the session's cgroup
// (launcher, child, anything else started in that delegated group) moves
// into the sub-group NAME, and the controllers the group has are enabled
// for its sub-groups. Done in the host pid namespace (cgroup.procs lists
// host pids), before the child starts the target, which then lands in NAME.
// The child mounts the group, the root of its cgroup namespace, at
// /sys/fs/cgroup (src/child/cgroup.ts).
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../sys/log.js';
import { RootlessError } from '../sys/errors.js';

export interface Cgroup2Group {
  /** Where the session's group is on the host, e.g. /sys/fs/cgroup/user.slice/... */
  path: string;
  /** Its name in the hierarchy, e.g. /user.slice/... */
  group: string;
}

/** Undo mountinfo's octal escapes (\040 for a space...). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The cgroup2 mounts: [root within the hierarchy, mount point]. */
export function cgroup2Mounts(mountinfo: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const fstype = line.slice(dash + 3).split(' ')[0];
    if (fstype !== 'cgroup2') continue;
    const f = line.slice(0, dash).split(' ');
    if (f.length >= 5) out.push([unescape(f[3]!), unescape(f[4]!)]);
  }
  return out;
}

/** The "0::/path" line of /proc/self/cgroup. */
export function cgroup2Membership(procSelfCgroup: string): string | undefined {
  for (const line of procSelfCgroup.split('\n')) if (line.startsWith('0::')) return line.slice(3);
  return undefined;
}

/** Where our cgroup v2 group is, or a RootlessError saying why there is none. */
export function locateCgroup2(mountinfo: string, procSelfCgroup: string): Cgroup2Group {
  const mounts = cgroup2Mounts(mountinfo);
  const group = cgroup2Membership(procSelfCgroup);
  if (mounts.length === 0 || group === undefined) {
    throw new RootlessError('--evacuate-cgroup2: cgroup v2 is not mounted on this host (no cgroup2 in /proc/self/mountinfo)', {
      step: 'evacuate cgroup2', code: 'ENOENT',
      hint: 'boot with systemd.unified_cgroup_hierarchy=1, or leave out --evacuate-cgroup2',
    });
  }
  for (const [root, mountpoint] of mounts) {
    if (group === root || group.startsWith(root === '/' ? '/' : `${root}/`)) {
      const rel = root === '/' ? group : group.slice(root.length);
      return { group, path: rel === '/' || rel === '' ? mountpoint : join(mountpoint, rel) };
    }
  }
  throw new RootlessError(`--evacuate-cgroup2: this process's cgroup ${group} is not under any cgroup2 mount`, {
    step: 'evacuate cgroup2', code: 'ENOENT', subject: group,
  });
}

/** Refuses before anything starts when the group is not ours to change. */
export function checkDelegated(g: Cgroup2Group, canWrite: (p: string) => boolean = writable): void {
  for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control']) {
    const p = f === '' ? g.path : join(g.path, f);
    if (!canWrite(p)) {
      throw new RootlessError(`--evacuate-cgroup2: the cgroup ${g.group} is not delegated to you (${p} is not writable)`, {
        step: 'evacuate cgroup2', code: 'EACCES', subject: p,
        hint: 'start rootless in a delegated cgroup, e.g. systemd-run --user -p Delegate=yes --scope rootless run ...',
      });
    }
  }
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function prepareEvacuation(): Cgroup2Group {
  const g = locateCgroup2(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
  checkDelegated(g);
  return g;
}

function pids(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && l !== '0');
}

export function evacuateCgroup2(g: Cgroup2Group, name: string, log: Logger): void {
  const target = join(g.path, name);
  try {
    mkdirSync(target, { recursive: true, mode: 0o755 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new RootlessError(`--evacuate-cgroup2: cannot create ${target}: ${code}`, { step: 'evacuate cgroup2', code, subject: target });
  }
  // Processes may fork while we move them: repeat until the group is empty.
  for (let round = 0; round < 10; round++) {
    const left = pids(readFileSync(join(g.path, 'cgroup.procs'), 'utf8'));
    if (left.length === 0) break;
    for (const pid of left) {
      try {
        writeFileSync(join(target, 'cgroup.procs'), pid);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ESRCH') log.warn({ processPid: pid, code, cgroup: target }, 'cannot move a process into the evacuation cgroup');
      }
    }
  }
  const controllers = readFileSync(join(g.path, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter((c) => c !== '');
  for (const c of controllers) {
    try {
      writeFileSync(join(g.path, 'cgroup.subtree_control'), `+${c}`);
    } catch (err) {
      log.warn({ controller: c, code: (err as NodeJS.ErrnoException).code }, 'cannot enable a cgroup controller for the session');
    }
  }
  log.debug({ from: g.group, to: join(g.group, name), controllers }, 'evacuated the cgroup');
}
