// Port drivers, parent half: forward ports from the host into the child's
// network namespace. One folder per driver; this file only dispatches.
import type { Logger } from '../cli/log.js';
import type { RunOptions } from '../cli/options.js';
import type { StateDir } from '../parent/statedir.js';
import type { NetworkSession } from '../net/index.js';
import type { ChildPortInfo } from './types.js';

export interface PortContext {
  childPid: number;
  state: StateDir;
  log: Logger;
  network: NetworkSession;
}

export interface PortSession {
  /** Sent to the child in ParentInitPortDriverCompleted. */
  childInfo: ChildPortInfo;
  /** Rejects with a RootlessError if the driver fails during the session. */
  failed: Promise<never>;
  stop(): Promise<void>;
}

const never = new Promise<never>(() => {});

export async function startPorts(opts: RunOptions, _ctx: PortContext): Promise<PortSession> {
  switch (opts.portDriver) {
    case 'none':
      return { childInfo: { driver: 'none' }, failed: never, stop: async () => {} };
    default:
      throw new Error(`port driver ${opts.portDriver} is not built yet`);
  }
}
