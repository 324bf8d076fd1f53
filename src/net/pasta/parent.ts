// --net=pasta, parent half: the real pasta, attached to the child's
// namespaces by pid (or to $STATE/netns with --detach-netns), configuring
// the interface itself (--config-net). It runs in the foreground as our
// child (PDEATHSIG: it cannot outlive a SIGKILLed parent, and pasta, which
// holds the namespace open, would not notice on its own). Its pid file is a
// FIFO in the state dir: pasta writes it once the network is configured, so
// readiness is known without polling, and it works with pasta versions
// that close inherited fds at start.
import { join } from 'node:path';
import { openSync, constants } from 'node:fs';
import { removeEntry } from '../../sys/state-file.js';
import type { NetworkContext, NetworkPlan, NetworkSession, NetworkSettings } from '../types.js';
import { mkfifo } from '../../sys/native.js';
import { signalNumber } from '../../sys/signals.js';
import { guestNetwork } from '../cidr.js';
import { programFeatures, type ProgramFeatures } from '../probe.js';
import { spawnDriver } from '../process.js';
import { readyOrAbandon, requireOption, tapDriverStart, tapSession } from '../tap-parent.js';
import { detachedNetnsPath } from '../detach/parent.js';
import { checkProgram } from '../binary.js';
import type { DriverProgramInfo, NetworkParentDriver } from '../driver.js';

export const PID_FIFO = 'pasta.pid';

function need(f: ProgramFeatures, file: string, option: string, why: string): void {
  requireOption(f, option, why, { file, program: `pasta (${f.version}, ${file})`, remedy: 'install a newer passt' });
}

/** The port driver's inbound options (the implicit driver's -t/-u), or none. */
function inboundArgs(fromPorts: unknown): string[] | undefined {
  return Array.isArray(fromPorts) && fromPorts.every((a) => typeof a === 'string') ? fromPorts : undefined;
}

export function pastaArgs(o: {
  opts: NetworkSettings; features: ProgramFeatures; file: string; childPid: number; stateDir: string; pidFile: string; fromPorts?: unknown;
}): string[] {
  const { opts, features: f, file } = o;
  for (const opt of ['--config-net', '--ns-ifname', '--mtu', '--address', '--netmask', '--gateway', '--dns-forward', '--pid', '--foreground', '--tcp-ports', '--udp-ports', '--tcp-ns', '--udp-ns']) {
    need(f, file, opt, '--net=pasta');
  }
  const net = guestNetwork(opts.cidr);
  const args = [
    file, '--foreground', '--quiet',
    '--ns-ifname', opts.ifname, '--mtu', String(opts.mtu), '--config-net',
    '--address', net.guest, '--netmask', String(net.prefixLength), '--gateway', net.gateway, '--dns-forward', net.dns,
    '--pid', o.pidFile,
  ];
  // pasta logs to syslog only unless told (and may have no syslog).
  if (f.options.includes('--stderr')) args.splice(3, 0, '--stderr');
  if (opts.disableHostLoopback) {
    need(f, file, '--no-map-gw', '--disable-host-loopback');
    args.push('--no-map-gw');
  }
  if (!opts.ipv6) {
    need(f, file, '--ipv4-only', 'IPv4 only (without --ipv6)');
    args.push('--ipv4-only');
  }
  // Inbound: nothing unless the implicit port driver forwards (-p specs, or
  // every port bound inside as RootlessKit's pasta does without them).
  args.push(...(inboundArgs(o.fromPorts) ?? ['--tcp-ports', 'none', '--udp-ports', 'none']));
  // Outbound to the host's loopback goes through the gateway, as with
  // slirp4netns; pasta's default (-T/-U auto) would also bind every port the
  // host listens on to the namespace's own loopback, taking ports the target
  // may want, and bypassing --disable-host-loopback.
  args.push('--tcp-ns', 'none', '--udp-ns', 'none');
  if (opts.detachNetns) {
    need(f, file, '--userns', '--detach-netns');
    need(f, file, '--netns', '--detach-netns');
    args.push('--userns', `/proc/${o.childPid}/ns/user`, '--netns', detachedNetnsPath(o.childPid, o.stateDir));
  } else {
    args.push(String(o.childPid));
  }
  return args;
}

const PROGRAM: DriverProgramInfo = {
  name: 'pasta', setting: 'pastaBinary', debianPackage: 'passt',
  install: 'Debian/Ubuntu: sudo apt-get install passt\nFedora:        sudo dnf install passt',
};

export const driver: NetworkParentDriver = {
  name: 'pasta',
  program: PROGRAM,
  check(host, settings) {
    const hostIpv6 = (host.read('/proc/net/if_inet6') ?? '').trim() !== '';
    return checkProgram(host, 'pasta', PROGRAM, settings, () => [`IPv6 ${hostIpv6 ? 'yes' : 'no (the host has no IPv6 address)'}`]);
  },
  start: tapDriverStart(startPasta),
};

export async function startPasta(opts: NetworkPlan, ctx: NetworkContext, file: string): Promise<NetworkSession> {
  const features = await programFeatures(file, ctx.log);
  const pidFile = join(ctx.state.path, PID_FIFO);
  const argv = pastaArgs({ opts, features, file, childPid: ctx.childPid, stateDir: ctx.state.path, pidFile, fromPorts: ctx.fromPorts });
  removeEntry(pidFile);
  mkfifo(pidFile, 0o600);
  ctx.state.track(PID_FIFO);
  // Non-blocking: a FIFO's reader may open before any writer; pasta's open
  // for writing then succeeds at once.
  const readyR = openSync(pidFile, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  const proc = spawnDriver({ name: 'pasta', file, argv, extraFds: [], log: ctx.log });
  const polite = (): void => {
    proc.signal(signalNumber('SIGTERM'));
  };
  const pid = (await readyOrAbandon(proc, readyR, polite)).trim();
  return tapSession('pasta', opts, ctx.log, { proc, driverPid: pid });
}
