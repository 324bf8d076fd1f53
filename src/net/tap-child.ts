// Child half shared by the user-mode drivers (slirp4netns, pasta): the
// driver configured the interface itself; the child brings lo up and
// installs the session's resolv.conf and hosts.
import type { ChildConfig } from '../protocol/config.js';
import type { ChildNetworkInfo } from '../protocol/drivers.js';
import type { Logger } from '../sys/log.js';
import { installResolvAndHosts } from './dns/install.js';
import { loopbackUp } from './loopback.js';

/** /etc is a tmpfs of links (src/child/copyup.ts), ours to change. */
function etcCopiedUp(config: ChildConfig): boolean {
  return (config.copyUp ?? []).includes('/etc');
}

export function configureTapChild(info: ChildNetworkInfo, config: ChildConfig, log: Logger): void {
  loopbackUp(info, log);
  if (info.dns && info.dns.length > 0) {
    installResolvAndHosts(
      { stateDir: config.stateDir, nameservers: info.dns, installInEtc: !info.detached, etcCopiedUp: etcCopiedUp(config) },
      log,
    );
  }
}
