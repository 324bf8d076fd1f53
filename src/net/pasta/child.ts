// --net=pasta, child half: pasta configured the interface; lo up, resolv.conf and hosts.
import type { NetworkChildDriver } from '../driver.js';
import { configureTapChild } from '../tap-child.js';

export const driver: NetworkChildDriver = {
  configure: configureTapChild,
};
