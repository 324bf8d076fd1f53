// Small pieces shared by everything that spawns through the addon: the
// launcher, `rootless exec`, the child, the network drivers.
import { close, getpgrp, pidfdSendSignal, tcgetpgrp, type ExitStatus } from './native.js';
import { forwardSignals } from './signals.js';

/** This process is in the foreground of the terminal on stdin (tcgetpgrp
 * answers -1 for anything but a terminal, so no node:tty is needed). */
export function ownsTerminal(): boolean {
  const fg = tcgetpgrp(0);
  return fg > 0 && fg === getpgrp();
}

/** Sends a signal through the pidfd until the process has exited; the
 * pidfd is closed then, so a reused pid is never signalled. */
export function pidfdSignaller(pidfd: number, exited: Promise<ExitStatus>): (sig: number) => boolean {
  let gone = false;
  void exited.then(() => {
    gone = true;
    close(pidfd);
  });
  return (sig) => !gone && pidfdSendSignal(pidfd, sig);
}

export interface SignalRelay {
  /** The process exists now: deliver what was held, forward from now on. */
  attach(pidfd: number): void;
  stop(): void;
}

/**
 * Forwards every catchable signal to a process about to be spawned.
 * Handlers go in before the spawn, so a signal that arrives while the
 * process is being created is held and delivered, not lost (or fatal).
 */
export function relaySignals(onSignal?: (sig: NodeJS.Signals) => void): SignalRelay {
  let pidfd = -1;
  const held: number[] = [];
  const stop = forwardSignals((sig, num) => {
    onSignal?.(sig);
    if (pidfd < 0) held.push(num);
    else pidfdSendSignal(pidfd, num);
  });
  return {
    attach(fd) {
      pidfd = fd;
      for (const num of held.splice(0)) pidfdSendSignal(fd, num);
    },
    stop,
  };
}
