// Network drivers, child half: what the driver leaves to the child
// (loopback, resolv.conf, hosts) before the target starts, and the detached
// namespace of --detach-netns, made before the parent starts the driver.
import type { ChildConfig } from '../protocol/config.js';
import type { Logger } from '../sys/log.js';
import { setLinkUp } from '../sys/native-net.js';
import { createDetachedNetnsFile } from './detach/child.js';
import { installResolvAndHosts } from './dns/install.js';
import type { ChildNetworkInfo } from '../protocol/drivers.js';

/** Before ChildInitUserNSCompleted: the namespace the driver will attach to. */
export function prepareNetworkNamespace(config: ChildConfig, log: Logger): void {
  if (!config.detachNetns) return;
  const path = createDetachedNetnsFile(config.stateDir);
  log.debug({ path }, 'detached network namespace created');
}

/** /etc is a tmpfs of links (src/child/copyup.ts), ours to change. */
function etcCopiedUp(config: ChildConfig): boolean {
  return (config.copyUp ?? []).includes('/etc');
}

export function configureChildNetwork(info: ChildNetworkInfo | undefined, config: ChildConfig, log: Logger): void {
  if (!info || info.driver === 'host') return;
  // A new network namespace starts with lo down (the detached one was
  // brought up when it was made).
  if (!info.detached) {
    setLinkUp('lo');
    log.debug('loopback up');
  }
  if (info.dns && info.dns.length > 0) {
    installResolvAndHosts(
      { stateDir: config.stateDir, nameservers: info.dns, installInEtc: !info.detached, etcCopiedUp: etcCopiedUp(config) },
      log,
    );
  }
}
