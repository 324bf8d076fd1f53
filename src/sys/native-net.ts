// Typed binding to addon/net.cc.
import { loadAddon, wrap } from './addon.js';

interface NetAddon {
  setLinkUp(ifname: string): void;
}

const addon = loadAddon<NetAddon>();

/** Sets IFF_UP on an interface of the calling thread's network namespace. */
export const setLinkUp = wrap(addon.setLinkUp);
