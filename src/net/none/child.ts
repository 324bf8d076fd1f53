// --net=none, child half: loopback up, nothing else.
import type { NetworkChildDriver } from '../driver.js';
import { loopbackUp } from '../loopback.js';

export const driver: NetworkChildDriver = {
  configure: (info, _config, log) => loopbackUp(info, log),
};
