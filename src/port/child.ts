// Port drivers, child half: whatever runs inside the namespace for the
// session (e.g. the builtin driver's connector). Started before the target.
import type { ChildLogger } from '../child/log.js';
import type { ChildPortInfo } from './types.js';

export async function startChildPorts(_info: ChildPortInfo | undefined, _log: ChildLogger): Promise<void> {
  // none: nothing runs in the child
}
