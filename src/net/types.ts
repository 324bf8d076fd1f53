// What the parent's network driver tells the child (JSON, in
// ParentInitNetworkDriverCompleted), shared by both halves.
import type { NetDriver } from '../cli/options.js';

export interface ChildNetworkInfo {
  driver: NetDriver;
}
