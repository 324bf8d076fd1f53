// What the parent's port driver tells the child (JSON, in
// ParentInitPortDriverCompleted), shared by both halves.
import type { PortDriverName } from '../cli/options.js';

export interface ChildPortInfo {
  driver: PortDriverName;
}
