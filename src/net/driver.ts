// The network driver contract, paired as RootlessKit's network.ParentDriver
// and network.ChildDriver: one folder per driver (src/net/<name>/) with a
// parent.ts that exports `driver: NetworkParentDriver` and a child.ts that
// exports `driver: NetworkChildDriver`. The registries (src/net/drivers.ts
// in the parent, src/net/child.ts in the child) list them by name.
import type { ChildConfig } from '../protocol/config.js';
import type { ChildNetworkInfo, NetDriverName } from '../protocol/drivers.js';
import type { Logger } from '../sys/log.js';
import type { RootlessError } from '../sys/errors.js';
import type { ProgramFeatures } from './probe.js';
import type { NetworkContext, NetworkPlan, NetworkSession, NetworkSettings } from './types.js';

/** The machine a driver's check reads: the real one (preflight, `rootless doctor`) or a fake root (tests). */
export interface DriverHost {
  /** PATH, for finding the driver's program. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Text of an absolute path, undefined when unreadable. */
  read(path: string): string | undefined;
  /** Why `path` is not an executable file (an errno code), undefined when it is one. */
  executable(path: string): string | undefined;
  /** The program's --version/--help. Absent: not probed (the start-up
   * preflight: the start probes, through the cache). */
  features?(path: string): Promise<ProgramFeatures | undefined>;
}

/** The program a driver runs, for its check and the doctor's fix. */
export interface DriverProgramInfo {
  /** Default name, looked up in PATH. */
  readonly name: string;
  /** The plan's field that names another (--slirp4netns-binary, --pasta-binary). */
  readonly setting: 'slirp4netnsBinary' | 'pastaBinary';
  readonly debianPackage: string;
  /** How to install it, one command per line. */
  readonly install: string;
}

export interface NetworkCheck {
  /** The driver's program, absolute, when it has one and it was found. */
  program?: string;
  /** Why the driver cannot run on this host: the error a run stops with. */
  problem?: RootlessError;
  /** With a probing host: the program's version and what this copy supports. */
  version?: string;
  features?: string[];
}

export interface NetworkParentDriver {
  readonly name: NetDriverName;
  /** The program it runs; undefined: none (host, none). */
  readonly program?: DriverProgramInfo;
  /**
   * Can it run here? The launcher's preflight (before anything starts) and
   * `rootless doctor` both ask this. Without settings: the defaults.
   */
  check(host: DriverHost, settings?: NetworkSettings): Promise<NetworkCheck>;
  /** Attach to the child's namespaces; `checked` is this driver's check of the running host. */
  start(plan: NetworkPlan, ctx: NetworkContext, checked: NetworkCheck): Promise<NetworkSession>;
}

export interface NetworkChildDriver {
  /** Inside the namespaces, before the target: what the parent half left to the child. */
  configure(info: ChildNetworkInfo, config: ChildConfig, log: Logger): void;
}
