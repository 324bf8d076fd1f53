// Port drivers, child half: whatever runs inside the namespace for the
// session (the builtin driver's connector). Started before the target.
import type { ChildLogger } from '../child/log.js';
import type { ChildPortInfo } from './types.js';

export async function startChildPorts(info: ChildPortInfo | undefined, log: ChildLogger): Promise<void> {
  if (info?.driver !== 'builtin') return; // none, slirp4netns, implicit: nothing runs in the child
  const { startBuiltinChild } = await import('./builtin/child.js');
  await startBuiltinChild(info, log);
}
