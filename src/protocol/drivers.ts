// The drivers' names, and what the parent's drivers tell the child (JSON, in
// ParentInitNetworkDriverCompleted and ParentInitPortDriverCompleted).

export type NetDriverName = 'host' | 'none' | 'slirp4netns' | 'pasta';
export type PortDriverName = 'none' | 'builtin' | 'slirp4netns' | 'implicit';

export const NET_DRIVERS: readonly NetDriverName[] = ['host', 'none', 'slirp4netns', 'pasta'];
export const PORT_DRIVERS: readonly PortDriverName[] = ['none', 'builtin', 'slirp4netns', 'implicit'];

export interface ChildNetworkInfo {
  driver: NetDriverName;
  /** The interface the driver made and configured (slirp4netns, pasta). */
  ifname?: string;
  /** What the driver configured on it, for logs and the REST API. */
  ip?: string;
  prefixLength?: number;
  gateway?: string;
  mtu?: number;
  /** Nameservers for the session's resolv.conf; none: no resolv.conf/hosts. */
  dns?: string[];
  /** The isolated namespace is bound at $STATE/netns; the target stays in
   * the host's (--detach-netns). */
  detached?: boolean;
}

export interface ChildPortInfo {
  driver: PortDriverName;
  /** builtin: the child's ends of the control sockets (fd numbers in the child). */
  controlFds?: number[];
  /** builtin with --detach-netns: connect inside this namespace ($STATE/netns). */
  netns?: string;
  /** builtin: keep clients' addresses (--source-ip-transparent). */
  sourceIPTransparent?: boolean;
}
