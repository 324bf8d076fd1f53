// Typed binding to addon/notify.cc: the NOTIFY_SOCKET relay's thread.
import { loadAddon, wrap } from './addon.js';

export interface NotifyRelayOptions {
  /** Lines starting with this are dropped from each datagram ("MAINPID="). */
  dropPrefix: string;
  /** Line appended to each datagram ("MAINPID=<pid>"). */
  append: string;
  /** The manager's size limit: the appended line goes alone rather than push a datagram over it. */
  limit: number;
}

export interface NotifyRelayed {
  /** The last event, after notifyRelayStop: everything queued was forwarded. */
  stopped?: boolean;
  /** The datagram as the sender wrote it. */
  message: string;
  /** Descriptors that came with it (SCM_RIGHTS), forwarded with it. */
  fds: number;
  /** The sender, as this process sees it (0 when unknown). */
  senderPid: number;
  /** errno name when forwarding failed. */
  error?: string;
  /** The kernel dropped descriptors that did not fit. */
  fdsTruncated?: boolean;
}

interface NotifyAddon {
  notifyRelayStart(listenPath: string, managerAddress: string, opts: NotifyRelayOptions, onRelayed: (r: NotifyRelayed) => void): number;
  notifyRelayStop(handle: number): void;
}

const addon = loadAddon<NotifyAddon>();

/** Binds listenPath (a 0600 unix datagram socket) and starts forwarding what
 * arrives to managerAddress ("/path" or "@abstract"). Returns a handle. */
export const notifyRelayStart = wrap(addon.notifyRelayStart);
/** Stops the relay: it forwards what is queued, reports {stopped}, closes its sockets. */
export const notifyRelayStop = wrap(addon.notifyRelayStop);
