// What the parent's port drivers are given: the chosen driver and the -p
// specs, parsed once (src/cli/plan.ts builds it).
import type { PortDriverName } from '../protocol/drivers.js';
import type { PublishFlag } from './spec.js';

export interface PortPlan {
  driver: PortDriverName;
  publish: readonly PublishFlag[];
  /** builtin: keep clients' addresses (--source-ip-transparent). */
  sourceIPTransparent: boolean;
}
