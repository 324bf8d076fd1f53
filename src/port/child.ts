// Port drivers, child half: whatever runs inside the namespace for the
// session (the builtin driver's connector), started before the target.
// The child halves by name (src/port/drivers.ts has the parent halves);
// loaded only when used.
import type { Logger } from '../sys/log.js';
import type { ChildPortInfo, PortDriverName } from '../protocol/drivers.js';
import { lazyRegistry } from '../sys/registry.js';
import type { PortChildDriver } from './driver.js';

/** none, slirp4netns, implicit: nothing runs in the child. */
const nothing = async (): Promise<{ driver: PortChildDriver }> => ({ driver: { start: async () => {} } });

export const CHILD_HALVES = lazyRegistry<PortDriverName, PortChildDriver>({
  none: nothing,
  builtin: () => import('./builtin/child.js'),
  slirp4netns: nothing,
  implicit: nothing,
});

export async function startChildPorts(info: ChildPortInfo | undefined, log: Logger): Promise<void> {
  if (info === undefined) return;
  await (await CHILD_HALVES.load(info.driver)).start(info, log);
}
