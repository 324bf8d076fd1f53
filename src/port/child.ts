// Port drivers, child half: whatever runs inside the namespace for the
// session (the builtin driver's connector), started before the target.
// The child halves by name (src/port/drivers.ts has the parent halves);
// loaded only when used.
import type { Logger } from '../sys/log.js';
import type { ChildPortInfo, PortDriverName } from '../protocol/drivers.js';
import type { PortChildDriver } from './driver.js';

/** none, slirp4netns, implicit: nothing runs in the child. */
const nothing = async (): Promise<PortChildDriver> => ({ start: async () => {} });

export const CHILD_HALVES: Readonly<Record<PortDriverName, () => Promise<PortChildDriver>>> = {
  none: nothing,
  builtin: async () => (await import('./builtin/child.js')).driver,
  slirp4netns: nothing,
  implicit: nothing,
};

export async function startChildPorts(info: ChildPortInfo | undefined, log: Logger): Promise<void> {
  if (info === undefined) return;
  await (await CHILD_HALVES[info.driver]()).start(info, log);
}
