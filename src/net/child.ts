// Network drivers, child half: configure what the driver left to the child
// (loopback, resolv.conf, hosts). Runs before the target starts.
import type { ChildConfig } from '../child/config.js';
import type { ChildLogger } from '../child/log.js';
import type { ChildNetworkInfo } from './types.js';

export function configureChildNetwork(_info: ChildNetworkInfo | undefined, _config: ChildConfig, _log: ChildLogger): void {
  // host: nothing to do; none: (loopback arrives with the networking work)
}
