// --net=slirp4netns, parent half: the real slirp4netns, attached to the
// child's namespaces by pid (or, with --detach-netns, to the namespace the
// child bound at $STATE/netns), configuring the tap itself (--configure:
// address, route, MTU; no iproute2), with an API socket in the state dir
// for the slirp4netns port driver, a ready fd (readiness without polling)
// and an exit fd (it leaves when the parent's end closes, even on SIGKILL).
import { removeEntry } from '../../sys/state-file.js';
import { join } from 'node:path';
import type { NetworkContext, NetworkPlan, NetworkSession, NetworkSettings, Tristate } from '../types.js';
import { RootlessError } from '../../sys/errors.js';
import { chmodSync, closeSync, openSync } from 'node:fs';
import { cloneFlags, close, pipe2 } from '../../sys/native.js';
import { kernelHasSeccomp, programFeatures, statusHasSeccomp, type ProgramFeatures } from '../probe.js';
import { spawnDriver } from '../process.js';
import { readyOrAbandon, requireOption, tapDriverStart, tapSession } from '../tap-parent.js';
import { detachedNetnsPath } from '../detach/parent.js';
import { checkProgram } from '../binary.js';
import type { DriverProgramInfo, NetworkParentDriver } from '../driver.js';

export const API_SOCKET = 'slirp4netns.sock';
/** sun_path is 108 bytes with its NUL. */
const SUN_PATH_MAX = 107;

function need(f: ProgramFeatures, file: string, option: string, why: string): void {
  requireOption(f, option, why, { file, program: `${f.version} (${file})`, remedy: 'install slirp4netns 1.0 or newer' });
}

/** --slirp4netns-sandbox / --slirp4netns-seccomp: auto means "if supported". */
function tristate(mode: Tristate, supported: boolean, require: () => void): boolean {
  if (mode === 'true') require();
  return mode === 'true' || (mode === 'auto' && supported);
}

export function slirp4netnsArgs(o: {
  opts: NetworkSettings; features: ProgramFeatures; file: string; childPid: number; stateDir: string; apiSocket: string; seccompKernel: boolean;
}): string[] {
  const { opts, features: f, file } = o;
  // --netns-type marks v0.4.0, the oldest with everything below (as RootlessKit checks).
  for (const opt of ['--netns-type', '--configure', '--ready-fd', '--exit-fd', '--api-socket']) need(f, file, opt, '--net=slirp4netns');
  const args = [file, '--mtu', String(opts.mtu), '--configure', '--ready-fd=3', '--exit-fd=4', '--api-socket', o.apiSocket];
  if (opts.cidr !== undefined) {
    need(f, file, '--cidr', '--cidr');
    args.push('--cidr', opts.cidr);
  }
  if (opts.disableHostLoopback) {
    need(f, file, '--disable-host-loopback', '--disable-host-loopback');
    args.push('--disable-host-loopback');
  }
  if (opts.ipv6) {
    need(f, file, '--enable-ipv6', '--ipv6');
    args.push('--enable-ipv6');
  }
  const sandbox = tristate(opts.slirp4netnsSandbox, f.options.includes('--enable-sandbox'), () =>
    need(f, file, '--enable-sandbox', '--slirp4netns-sandbox=true'));
  if (sandbox) args.push('--enable-sandbox');
  const seccomp = tristate(opts.slirp4netnsSeccomp, f.options.includes('--enable-seccomp') && o.seccompKernel, () => {
    need(f, file, '--enable-seccomp', '--slirp4netns-seccomp=true');
    if (!o.seccompKernel) {
      throw new RootlessError('--slirp4netns-seccomp=true: this kernel has no seccomp', { step: 'network driver', code: 'ENOSYS' });
    }
  });
  if (seccomp) args.push('--enable-seccomp');
  if (opts.detachNetns) {
    need(f, file, '--userns-path', '--detach-netns');
    args.push(`--userns-path=/proc/${o.childPid}/ns/user`, '--netns-type=path', detachedNetnsPath(o.childPid, o.stateDir), opts.ifname);
  } else {
    args.push(String(o.childPid), opts.ifname);
  }
  return args;
}

const PROGRAM: DriverProgramInfo = {
  name: 'slirp4netns', setting: 'slirp4netnsBinary', debianPackage: 'slirp4netns',
  install: 'Debian/Ubuntu: sudo apt-get install slirp4netns\nFedora:        sudo dnf install slirp4netns',
};

export const driver: NetworkParentDriver = {
  name: 'slirp4netns',
  program: PROGRAM,
  check(host, settings) {
    return checkProgram(host, 'slirp4netns', PROGRAM, settings, (f) => {
      const has = (o: string): boolean => f.options.includes(o);
      const seccompKernel = statusHasSeccomp(host.read('/proc/self/status') ?? '');
      return [
        `sandbox ${has('--enable-sandbox') ? 'yes' : 'no'}`,
        `seccomp ${has('--enable-seccomp') ? (seccompKernel ? 'yes' : 'no (the kernel has no seccomp)') : 'no'}`,
        `IPv6 ${has('--enable-ipv6') ? 'yes' : 'no'}`,
      ];
    });
  },
  start: tapDriverStart(startSlirp4netns),
};

export async function startSlirp4netns(opts: NetworkPlan, ctx: NetworkContext, file: string): Promise<NetworkSession> {
  const apiSocket = join(ctx.state.path, API_SOCKET);
  if (Buffer.byteLength(apiSocket) > SUN_PATH_MAX) {
    throw new RootlessError(`--state-dir ${ctx.state.path}: too long for slirp4netns's API socket ${apiSocket} (at most ${SUN_PATH_MAX} bytes)`, {
      step: 'network driver', code: 'ENAMETOOLONG', subject: apiSocket,
    });
  }
  const features = await programFeatures(file, ctx.log);
  const seccompKernel = opts.slirp4netnsSeccomp === 'false' ? false : kernelHasSeccomp();
  const argv = slirp4netnsArgs({ opts, features, file, childPid: ctx.childPid, stateDir: ctx.state.path, apiSocket, seccompKernel });

  const [readyR, readyW] = pipe2();
  const [exitR, exitW] = pipe2();
  // slirp4netns binds its socket there: nothing (no planted link) may be in the way.
  removeEntry(apiSocket);
  ctx.state.track(API_SOCKET);
  // With --netns-type=path, slirp4netns 1.2's sandbox looks for the user
  // namespace by pid (there is none) and fails: it starts inside the
  // child's user namespace instead (its sockets stay in the host's network).
  const userns = opts.detachNetns ? openSync(`/proc/${ctx.childPid}/ns/user`, 'r') : undefined;
  let proc;
  try {
    proc = spawnDriver({
      name: 'slirp4netns', file, argv, extraFds: [readyW, exitR], log: ctx.log,
      ...(userns !== undefined ? { setns: [{ fd: userns, nstype: cloneFlags.CLONE_NEWUSER }] } : {}),
    });
  } catch (err) {
    for (const fd of [readyR, exitW]) close(fd);
    throw err;
  } finally {
    for (const fd of [readyW, exitR]) close(fd);
    if (userns !== undefined) closeSync(userns);
  }
  let exitOpen = true;
  // Closing our end of the exit fd is slirp4netns's "quit".
  const polite = (): void => {
    if (exitOpen) close(exitW);
    exitOpen = false;
  };
  await readyOrAbandon(proc, readyR, polite);
  try {
    chmodSync(apiSocket, 0o600);
  } catch {
    // slirp4netns makes it before ready; the 0700 state dir guards it anyway
  }
  return tapSession('slirp4netns', opts, ctx.log, {
    proc, driverPid: proc.pid, forPorts: (childIP) => ({ apiSocket, childIP }), release: polite,
  });
}
