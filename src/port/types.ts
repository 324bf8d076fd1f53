// What the parent's port driver tells the child (JSON, in
// ParentInitPortDriverCompleted), shared by both halves.
import type { PortDriverName } from '../cli/options.js';

export interface ChildPortInfo {
  driver: PortDriverName;
  /** builtin: the child's ends of the control sockets (fd numbers in the child). */
  controlFds?: number[];
  /** builtin with --detach-netns: connect inside this namespace ($STATE/netns). */
  netns?: string;
  /** builtin: keep clients' addresses (--source-ip-transparent). */
  sourceIPTransparent?: boolean;
}
