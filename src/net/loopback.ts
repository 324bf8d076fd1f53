// Child side, shared by the drivers that give the target a namespace of its
// own: a new network namespace starts with lo down (the detached one of
// --detach-netns was brought up when it was made).
import type { ChildNetworkInfo } from '../protocol/drivers.js';
import type { Logger } from '../sys/log.js';
import { setLinkUp } from '../sys/native.js';

export function loopbackUp(info: ChildNetworkInfo, log: Logger): void {
  if (info.detached) return;
  setLinkUp('lo');
  log.debug('loopback up');
}
