// The pieces every port driver's parent half shares: the prep of a driver
// that needs nothing before the clone, and "every -p listens, or none".
import { RootlessError } from '../sys/errors.js';
import type { Logger } from '../sys/log.js';
import type { ChildPortInfo } from '../protocol/drivers.js';
import type { PortPrep, PortSession } from './driver.js';
import type { PortManager } from './manager.js';
import type { PortPlan } from './types.js';

export const never = new Promise<never>(() => {});

/** Nothing before the clone; `forNetwork` is handed to the network driver. */
export function noPrep(forNetwork?: unknown): PortPrep {
  return { childFds: [], ...(forNetwork !== undefined ? { forNetwork } : {}), cloned: () => {}, discard: () => {} };
}

/** Every -p listens before the session is ready, or none stays. */
export async function publishAll(driver: PortManager, plan: PortPlan, log: Logger, childInfo: ChildPortInfo): Promise<PortSession> {
  try {
    await driver.addAll(plan.publish.map((p) => p.spec));
  } catch (err) {
    await driver.stop().catch(() => {});
    throw err instanceof RootlessError ? new RootlessError(`--publish ${err.message}`, { step: 'publish', ...(err.code ? { code: err.code } : {}), ...(err.subject ? { subject: err.subject } : {}) }) : err;
  }
  for (const p of driver.list()) log.debug({ id: p.id, spec: p.spec }, 'port published');
  return { childInfo, driver, failed: never, stop: () => driver.stop() };
}
