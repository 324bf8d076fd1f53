// Port drivers, parent half: forward ports from the host into the child's
// network namespace. One folder per driver (the contract in driver.ts);
// src/port/drivers.ts finds a driver's code by name. Drivers are loaded
// lazily: `rootless run` without ports loads none.
export type { PortContext, PortParentDriver, PortPrep, PortSession } from './driver.js';
export { portDriver, PORT_DRIVER_NAMES } from './drivers.js';
