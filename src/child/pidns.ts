// The child as PID 1 of a new pid namespace (--pidns): its own /proc, the
// orphan reaper, and signals. The kernel delivers a signal to PID 1 only if
// PID 1 has a handler for it (SIGKILL and SIGSTOP from an ancestor namespace
// excepted), so until the target's forwarders are installed the terminating
// signals get a handler that ends the child as the default action would
// have; the parent reads exit code 128+N as "interrupted by N".
import { exitCodeOf } from '../sys/errors.js';
import { startReaper } from '../sys/native.js';
import { TERMINATING_SIGNALS, inheritedIgnoredSignals, signalNumber } from '../sys/signals.js';
import type { Logger } from '../sys/log.js';
import { mountFresh } from './mounts.js';

let early: [NodeJS.Signals, () => void][] = [];

/** Before anything is spawned: the reaper must see every child from the start. */
export function becomeInit(reaper: boolean, log: Logger): void {
  if (reaper) {
    startReaper();
    log.debug('reaping orphans as PID 1');
  }
  for (const sig of TERMINATING_SIGNALS as ReadonlySet<NodeJS.Signals>) {
    if (inheritedIgnoredSignals().includes(signalNumber(sig))) continue;
    const fn = (): void => process.exit(exitCodeOf({ code: null, signal: signalNumber(sig) }));
    process.on(sig, fn);
    early.push([sig, fn]);
  }
}

/** The target's forwarders are in place: they handle every signal from now on. */
export function releaseEarlySignals(): void {
  for (const [sig, fn] of early) process.off(sig, fn);
  early = [];
}

/** A /proc of this pid namespace. */
export function mountProc(log: Logger): void {
  if (mountFresh('proc', '/proc', log) !== 'none') log.debug('mounted a fresh /proc');
}
