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

/** Environment variable in which bin/rootless hands over the caller's SigIgn mask. */
export const SIGIGN_ENV = '_ROOTLESS_SIGIGN';

let inherited: readonly number[] = [];

/** The signals in a /proc/PID/status SigIgn mask (hex, bit N-1 = signal N). */
export function parseSigIgn(hex: string): number[] {
  if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) return [];
  const mask = BigInt(`0x${hex}`);
  const out: number[] = [];
  for (let n = 1; n <= 64; n++) if ((mask >> BigInt(n - 1)) & 1n) out.push(n);
  return out;
}

/**
 * Signals the caller ignored when it started rootless (nohup, trap ''):
 * as across an execve they stay ignored for the target, so they are not
 * forwarded, and our own processes survive them too. Node resets every
 * disposition when it boots, so bin/rootless reads them before (SigIgn)
 * and the child gets them in its config. Installs a handler that does
 * nothing for the ones node lets us catch.
 */
export function inheritIgnoredSignals(signals: readonly number[]): void {
  inherited = signals.filter((n) => Number.isInteger(n) && n > 0 && n < 65);
  for (const sig of FORWARDED_SIGNALS) {
    if (!inherited.includes(signalNumber(sig))) continue;
    try {
      process.on(sig, () => {});
    } catch {
      // refused by this platform: the default action stays
    }
  }
}

/** Signals the target starts with ignored (inheritIgnoredSignals). */
export function inheritedIgnoredSignals(): readonly number[] {
  return inherited;
}

/** Install one handler for every forwarded signal; returns the remover.
 * Signals ignored by the caller are not forwarded (inheritIgnoredSignals). */
export function forwardSignals(handler: (sig: NodeJS.Signals, num: number) => void): () => void {
  const installed: [NodeJS.Signals, () => void][] = [];
  for (const sig of FORWARDED_SIGNALS) {
    const num = signalNumber(sig);
    if (inherited.includes(num)) continue;
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
