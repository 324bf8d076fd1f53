// The user-mode network drivers (optional: only --net=slirp4netns / pasta
// need them): each driver's own check (the one the launcher's preflight
// runs), on a host that probes the program's features; and /dev/net/tun,
// which both open inside the namespace.
import { NETWORK_DRIVER_NAMES, networkDriver, type DriverHost } from '../net/index.js';
import { parseProbe } from '../net/probe.js';
import type { Check, FileInfo, Host } from './types.js';

const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The doctor's view of the machine as a driver's check reads it: files by stat, as `which` finds them. */
export function driverHost(host: Host): DriverHost {
  return {
    env: { ...host.env, PATH: (host.env.PATH ?? TOOL_PATH).split(':').filter((d) => d.startsWith('/')).join(':') },
    cwd: '/',
    read: (p) => host.read(p),
    executable(p) {
      const st = host.stat(p);
      if (st === undefined) return 'ENOENT';
      if (st.kind !== 'file') return 'EISDIR';
      return (st.mode & 0o111) !== 0 ? undefined : 'EACCES';
    },
    features: (p) => host.features(p),
  };
}

export async function networkChecks(host: Host): Promise<Check[]> {
  const checks: Check[] = [];
  const view = driverHost(host);
  for (const name of NETWORK_DRIVER_NAMES) {
    const d = await networkDriver(name);
    if (d.program === undefined) continue;
    const r = await d.check(view);
    if (r.problem !== undefined) {
      checks.push({ name, status: 'warn', message: r.problem.message, fix: d.program.install });
    } else {
      checks.push({ name, status: 'ok', message: `${r.program}: ${r.version}; ${(r.features ?? []).join(', ')}` });
    }
  }
  checks.push(tunCheck(host));
  return checks;
}

function canReadWrite(st: FileInfo, host: Host): boolean {
  if (host.uid === 0) return true;
  if (st.uid === host.uid) return (st.mode & 0o600) === 0o600;
  if (st.gid === host.gid || host.groups.includes(st.gid)) return (st.mode & 0o060) === 0o060;
  return (st.mode & 0o006) === 0o006;
}

const TUN_RULE = `echo 'KERNEL=="tun", MODE="0666"' | sudo tee /etc/udev/rules.d/90-rootless-tun.rules`;

export function tunCheck(host: Host): Check {
  const st = host.stat('/dev/net/tun');
  if (st === undefined || st.kind !== 'char') {
    return {
      name: 'dev_net_tun',
      status: 'warn',
      message: '/dev/net/tun does not exist: slirp4netns and pasta cannot make their tap device',
      fix: `sudo modprobe tun && echo tun | sudo tee /etc/modules-load.d/tun.conf\n# in a container: pass the device in, e.g. docker run --device /dev/net/tun`,
    };
  }
  if (!canReadWrite(st, host)) {
    return {
      name: 'dev_net_tun',
      status: 'warn',
      message: `/dev/net/tun (mode ${(st.mode & 0o777).toString(8)}) is not readable and writable by you: slirp4netns and pasta cannot make their tap device`,
      fix: `sudo chmod 0666 /dev/net/tun\n# and so it stays after a reboot:\n${TUN_RULE}`,
    };
  }
  return { name: 'dev_net_tun', status: 'ok', message: `/dev/net/tun is usable (mode ${(st.mode & 0o777).toString(8)})` };
}

/** For fake hosts: features from recorded --version and --help output. */
export const featuresFromText = parseProbe;
