// The user-mode network drivers (optional: only --net=slirp4netns / pasta
// need them): present, their versions and the features this copy has, and
// /dev/net/tun, which both open inside the namespace.
import { parseProbe, statusHasSeccomp } from '../net/probe.js';
import { which } from './host.js';
import type { Check, FileInfo, Host } from './types.js';

const DRIVERS = [
  { name: 'slirp4netns', binary: 'slirp4netns', install: 'Debian/Ubuntu: sudo apt-get install slirp4netns\nFedora:        sudo dnf install slirp4netns' },
  { name: 'pasta', binary: 'pasta', install: 'Debian/Ubuntu: sudo apt-get install passt\nFedora:        sudo dnf install passt' },
] as const;

function kernelSeccomp(host: Host): boolean {
  return statusHasSeccomp(host.read('/proc/self/status') ?? '');
}

function hostIpv6(host: Host): boolean {
  return (host.read('/proc/net/if_inet6') ?? '').trim() !== '';
}

export async function networkChecks(host: Host): Promise<Check[]> {
  const checks: Check[] = [];
  for (const d of DRIVERS) {
    const file = which(host, d.binary);
    if (file === undefined) {
      checks.push({ name: d.name, status: 'warn', message: `${d.binary} is not in PATH: --net=${d.name} cannot be used`, fix: d.install });
      continue;
    }
    const f = await host.features(file);
    if (f === undefined) {
      checks.push({ name: d.name, status: 'warn', message: `${file} did not answer --version/--help`, fix: d.install });
      continue;
    }
    const has = (o: string): boolean => f.options.includes(o);
    const features =
      d.name === 'slirp4netns'
        ? [
            `sandbox ${has('--enable-sandbox') ? 'yes' : 'no'}`,
            `seccomp ${has('--enable-seccomp') ? (kernelSeccomp(host) ? 'yes' : 'no (the kernel has no seccomp)') : 'no'}`,
            `IPv6 ${has('--enable-ipv6') ? 'yes' : 'no'}`,
          ]
        : [`IPv6 ${hostIpv6(host) ? 'yes' : 'no (the host has no IPv6 address)'}`];
    checks.push({ name: d.name, status: 'ok', message: `${file}: ${f.version}; ${features.join(', ')}` });
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
