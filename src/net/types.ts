// What the parent's network driver tells the child (JSON, in
// ParentInitNetworkDriverCompleted), shared by both halves.
import type { NetDriver } from '../cli/options.js';

export interface ChildNetworkInfo {
  driver: NetDriver;
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
