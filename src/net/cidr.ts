// The guest network of slirp4netns and pasta: in --cidr (default
// 10.0.2.0/24) the guest is .100, the gateway (the host) .2 and DNS .3, as
// slirp4netns fixes them and as RootlessKit configures pasta.
export const DEFAULT_CIDR = '10.0.2.0/24';

export interface GuestNetwork {
  /** Normalized network, e.g. 10.0.2.0/24. */
  cidr: string;
  prefixLength: number;
  guest: string;
  gateway: string;
  dns: string;
}

function toInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}

function toText(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `cidr` is already validated and normalized by the CLI (parseCidr). */
export function guestNetwork(cidr: string = DEFAULT_CIDR): GuestNetwork {
  const [addr, prefix] = cidr.split('/') as [string, string];
  const prefixLength = Number(prefix);
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const base = (toInt(addr) & mask) >>> 0;
  const at = (host: number): string => toText((base + host) >>> 0);
  return { cidr: `${toText(base)}/${prefixLength}`, prefixLength, guest: at(100), gateway: at(2), dns: at(3) };
}
