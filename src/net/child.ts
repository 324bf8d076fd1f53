// Network drivers, child half: configure what the driver left to the child
// (loopback, resolv.conf, hosts). Runs before the target starts.
import type { ChildConfig } from '../child/config.js';
import type { ChildLogger } from '../child/log.js';
import { setLinkUp } from '../sys/native-net.js';
import type { ChildNetworkInfo } from './types.js';

export function configureChildNetwork(info: ChildNetworkInfo | undefined, _config: ChildConfig, log: ChildLogger): void {
  if (!info || info.driver === 'host') return;
  // A new network namespace starts with lo down.
  setLinkUp('lo');
  log.debug('loopback up');
}
