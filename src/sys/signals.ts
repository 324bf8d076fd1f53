// Signals the launcher passes on: from the parent to the child, and from
// the child to the target. Everything that can be caught, except SIGCHLD
// (ours), SIGPIPE (node ignores it; a broken pipe of ours is not the
// target's business), SIGPROF (V8's profiler) and SIGTTIN/SIGTTOU: a
// handler for those would turn a background write with TOSTOP into an
// endless restart instead of a stop.
import { constants } from 'node:os';

export const FORWARDED_SIGNALS = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH',
  'SIGALRM', 'SIGVTALRM', 'SIGXCPU', 'SIGXFSZ', 'SIGPWR', 'SIGSYS',
  'SIGURG', 'SIGIO', 'SIGTRAP', 'SIGABRT', 'SIGCONT', 'SIGTSTP',
] as const satisfies readonly NodeJS.Signals[];

export type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

/** Signals whose default action ends a process: before the target runs,
 * they abort the start instead of waiting for it. */
export const TERMINATING_SIGNALS: ReadonlySet<string> = new Set(['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM']);

export function signalNumber(name: NodeJS.Signals): number {
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new Error(`unknown signal ${name}`);
  return n;
}

export function signalName(n: number): string {
  for (const [name, value] of Object.entries(constants.signals)) if (value === n) return name;
  return `signal ${n}`;
}

/** Install one handler for every forwarded signal; returns the remover. */
export function forwardSignals(handler: (sig: NodeJS.Signals, num: number) => void): () => void {
  const installed: [NodeJS.Signals, () => void][] = [];
  for (const sig of FORWARDED_SIGNALS) {
    const num = signalNumber(sig);
    const fn = (): void => handler(sig, num);
    try {
      process.on(sig, fn);
      installed.push([sig, fn]);
    } catch {
      // Some platforms refuse a few of these (e.g. SIGPWR); skip them.
    }
  }
  return () => {
    for (const [sig, fn] of installed) process.off(sig, fn);
  };
}
