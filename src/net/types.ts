// What the parent's network drivers are given: the chosen driver's settings,
// from the flags (src/cli/plan.ts builds it).
import type { ChildNetworkInfo, NetDriverName } from '../protocol/drivers.js';
import type { Logger } from '../sys/log.js';
import type { StateDir } from '../sys/statedir.js';

export type Tristate = 'auto' | 'true' | 'false';

export interface NetworkPlan {
  driver: NetDriverName;
  /** 68..65521; default 65520. */
  mtu: number;
  /** IPv4 network with prefix (normalized); undefined: 10.0.2.0/24. */
  cidr: string | undefined;
  ifname: string;
  disableHostLoopback: boolean;
  ipv6: boolean;
  /** The child makes the namespace at $STATE/netns; the target stays in the host's. */
  detachNetns: boolean;
  slirp4netnsBinary: string;
  slirp4netnsSandbox: Tristate;
  slirp4netnsSeccomp: Tristate;
  pastaBinary: string;
}

/** What a driver's argv is made from: its settings, whichever driver was chosen. */
export type NetworkSettings = Omit<NetworkPlan, 'driver'>;

export interface NetworkContext {
  childPid: number;
  state: StateDir;
  log: Logger;
  /** What the port driver hands the network driver (pasta: its inbound
   * options from the implicit port driver); opaque here. */
  fromPorts?: unknown;
}

/** What GET /v1/info reports as networkDriver (RootlessKit's API). */
export interface NetworkApiInfo {
  driver: string;
  dns: string[];
  childIP?: string;
}

export interface NetworkSession {
  /** Sent to the child in ParentInitNetworkDriverCompleted. */
  childInfo: ChildNetworkInfo;
  /** For the REST API's /v1/info. */
  apiInfo: NetworkApiInfo;
  /** What the network driver hands the port driver (slirp4netns: its API
   * socket, for the slirp4netns port driver); opaque here. */
  forPorts?: unknown;
  /** Rejects with a RootlessError if the driver dies during the session. */
  failed: Promise<never>;
  /** Stops the driver; idempotent. */
  stop(): Promise<void>;
}

