// The pieces every driver's parent half shares: the session object the
// launcher holds, built from a running driver process.
import { RootlessError } from '../sys/errors.js';
import { signalNumber } from '../sys/signals.js';
import type { ExitStatus } from '../sys/native.js';
import type { NetworkSession, NetworkApiInfo } from './types.js';
import type { ChildNetworkInfo, NetDriverName } from '../protocol/drivers.js';
import { diedDuringSession, stopDriver, type DriverProcess } from './process.js';

export interface DriverSessionParts {
  proc: DriverProcess;
  childInfo: ChildNetworkInfo;
  apiInfo: NetworkApiInfo;
  /** Opaque, for the port driver (NetworkSession.forPorts). */
  forPorts?: unknown;
  /** Closes what the parent holds for the driver (its exit fd). */
  release?: () => void;
}

const never = new Promise<never>(() => {});

/** The session of a driver that runs nothing (host, none). */
export function idleSession(driver: NetDriverName, detached: boolean): NetworkSession {
  return {
    childInfo: { driver, ...(detached ? { detached: true } : {}) },
    apiInfo: { driver, dns: [] },
    failed: never,
    stop: async () => {},
  };
}

/** Grace before SIGKILL when a driver that failed to start is stopped. */
const STOP_GRACE_MS = 1000;

export function driverSession(p: DriverSessionParts): NetworkSession {
  let stopping = false;
  const failed = new Promise<never>((_, reject) => {
    void p.proc.exited.then(async (s: ExitStatus) => {
      if (stopping) return;
      reject(await diedDuringSession(p.proc, s));
    });
  });
  // The launcher attaches its handler only once the target runs; a driver
  // that dies before must not be an unhandled rejection.
  failed.catch(() => {});
  return {
    childInfo: p.childInfo,
    apiInfo: p.apiInfo,
    ...(p.forPorts !== undefined ? { forPorts: p.forPorts } : {}),
    failed,
    // SIGKILL, then wait for the exit: when rootless exits, none of its
    // processes may remain (a supervisor that starts the next session at
    // once must not find the last one's driver). The kernel tears the tap
    // device down as the driver's last fd on it closes, which the wait
    // includes (docs/design-notes.md has the cost).
    stop: async () => {
      if (!stopping) {
        stopping = true;
        p.proc.signal(signalNumber('SIGKILL'));
        p.proc.detachOutput();
        p.release?.();
      }
      await p.proc.exited;
    },
  };
}

/** A driver that failed to start: stop it, then rethrow. */
export async function abandon(proc: DriverProcess, polite: () => void, err: unknown): Promise<never> {
  await stopDriver(proc, polite, STOP_GRACE_MS);
  throw err instanceof RootlessError ? err : new RootlessError(String(err), { step: 'network driver', cause: err });
}
