// --net=slirp4netns, child half: slirp4netns configured the interface; lo up, resolv.conf and hosts.
import type { NetworkChildDriver } from '../driver.js';
import { configureTapChild } from '../tap-child.js';

export const driver: NetworkChildDriver = {
  configure: configureTapChild,
};
