// Network drivers, parent half: attach user-mode networking to the child's
// network namespace and say what the child must configure on its side.
// One folder per driver (parent and child halves together); this file
// only dispatches.
import type { Logger } from '../cli/log.js';
import type { RunOptions } from '../cli/options.js';
import type { StateDir } from '../parent/statedir.js';
import type { ChildNetworkInfo } from './types.js';

export interface NetworkContext {
  childPid: number;
  state: StateDir;
  log: Logger;
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
  /** slirp4netns's API socket (--net=slirp4netns), for the slirp4netns port driver. */
  slirp4netnsApiSocket?: string;
  /** Rejects with a RootlessError if the driver dies during the session. */
  failed: Promise<never>;
  /** Stops the driver; idempotent. */
  stop(): Promise<void>;
}

const never = new Promise<never>(() => {});

export async function startNetwork(opts: RunOptions, _ctx: NetworkContext): Promise<NetworkSession> {
  switch (opts.net) {
    case 'host':
    case 'none':
      return { childInfo: { driver: opts.net }, apiInfo: { driver: opts.net, dns: [] }, failed: never, stop: async () => {} };
    default:
      throw new Error(`network driver ${opts.net} is not built yet`);
  }
}
