// Port drivers, child half: whatever runs inside the namespace for the
// session (the builtin driver's connector). Started before the target.
import type { Logger } from '../sys/log.js';
import type { ChildPortInfo } from '../protocol/drivers.js';

export async function startChildPorts(info: ChildPortInfo | undefined, log: Logger): Promise<void> {
  if (info?.driver !== 'builtin') return; // none, slirp4netns, implicit: nothing runs in the child
  const { startBuiltinChild } = await import('./builtin/child.js');
  await startBuiltinChild(info, log);
}
