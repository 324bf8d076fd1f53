// The builtin port driver, child half: the connector thread (addon/port.cc)
// connects inside the namespace on the parent's request and passes the
// socket back. It runs for the session; the child's event loop need not.
import type { ChildLogger } from '../../child/log.js';
import type { ChildPortInfo } from '../types.js';

export async function startBuiltinChild(info: ChildPortInfo, log: ChildLogger): Promise<void> {
  const { startConnector } = await import('../../sys/native-port.js');
  startConnector(info.controlFds ?? [], 30_000, info.netns);
  log.debug('port connector running', { controlFds: info.controlFds });
}
