// --net=host, child half: the host's network, as it is.
import type { NetworkChildDriver } from '../driver.js';

export const driver: NetworkChildDriver = {
  configure: () => {},
};
