// The builtin port driver, child half: the connector thread (addon/port/connector.cc)
// connects inside the namespace on the parent's request and passes the
// socket back. It runs for the session; the child's event loop need not.
import type { Logger } from '../../sys/log.js';
import type { ChildPortInfo } from '../../protocol/drivers.js';
import type { PortChildDriver } from '../driver.js';

export const driver: PortChildDriver = { start: startBuiltinChild };

export async function startBuiltinChild(info: ChildPortInfo, log: Logger): Promise<void> {
  const { startConnector, SOURCE_KEEP, SOURCE_OFF } = await import('../../sys/native.js');
  const keep = info.sourceIPTransparent === true;
  // The connector sets up the namespace's routing (in its own thread: with
  // --detach-netns only that thread is in the namespace) before it serves.
  const source = startConnector(info.controlFds ?? [], 30_000, info.netns, keep ? SOURCE_KEEP : SOURCE_OFF);
  if (keep && source.warning !== undefined) {
    const what = !source.on ? 'every client' : [!source.ipv6 && 'IPv6 clients', !source.udp && 'UDP clients'].filter(Boolean).join(' and ');
    log.warn(`--source-ip-transparent: the kernel refused ${source.warning}; ${what} will be seen as coming from the loopback address`);
  }
  log.debug({ controlFds: info.controlFds, source }, 'port connector running');
}
