// What the parent is asked to do: the CLI (src/cli/plan.ts) turns the
// validated flags into this, as RootlessKit's cmd/ builds parent.Opt. The
// parent and everything below it know the plan, never the flags.
import type { NetworkPlan } from '../net/types.js';
import type { PortPlan } from '../port/types.js';
import type { Propagation } from '../sys/mount.js';

export type SubidSource = 'auto' | 'static' | 'dynamic' | 'none';

export interface LaunchPlan {
  /** Target argv, non-empty, as bytes (they need not be UTF-8). */
  command: Buffer[];
  /** --state-dir (absolute, normalized); undefined: a fresh or named one. */
  stateDir: string | undefined;
  /** --name: a named session (its state dir is $XDG_RUNTIME_DIR/rootless/NAME). */
  name: string | undefined;
  subidSource: SubidSource;
  propagation: Propagation;
  pidns: boolean;
  cgroupns: boolean;
  utsns: boolean;
  ipcns: boolean;
  /** Reap orphans as PID 1 (--pidns, unless --reaper=false). */
  reaper: boolean;
  evacuateCgroup2: string | undefined;
  /** Absolute, normalized, unique. */
  copyUp: string[];
  /** --keep-orphans: what the target leaves running outlives the session (RootlessKit's behaviour). */
  keepOrphans: boolean;
  network: NetworkPlan;
  ports: PortPlan;
}

/**
 * Whether the child can become the target (exec) instead of staying beside
 * it: nothing needs a process inside the namespaces once the target runs.
 * A pid namespace wants its init (reaper, signals), a network or port
 * driver its half inside (lo, the port connector, --detach-netns's netns).
 * ROOTLESS_KEEP_CHILD=1 keeps the child (to compare, or to debug).
 */
export function targetReplacesChild(p: LaunchPlan, env: NodeJS.ProcessEnv = process.env): boolean {
  return !p.pidns && p.network.driver === 'host' && !p.network.detachNetns && p.ports.driver === 'none' && env.ROOTLESS_KEEP_CHILD !== '1';
}

/**
 * Whether the addon's clone can exec the target itself, with no node inside
 * at all (src/parent/native-child.ts): the child replaces itself with the
 * target, and no flag needs more setup inside than "/"'s propagation. Copy-up,
 * cgroup2 evacuation and --ipcns's mounts keep the node child.
 * ROOTLESS_NODE_CHILD=1 keeps it too (to compare, or to debug), and so does
 * ROOTLESS_DISABLE_AMBIENT_CAPS=1, which exercises the node child's re-exec.
 */
export function nativeChildSuffices(p: LaunchPlan, env: NodeJS.ProcessEnv = process.env): boolean {
  return (
    targetReplacesChild(p, env) &&
    p.copyUp.length === 0 &&
    p.evacuateCgroup2 === undefined &&
    !p.ipcns &&
    // An empty name gets resolveCommand's own error, from the node child.
    (p.command[0]?.length ?? 0) > 0 &&
    env.ROOTLESS_NODE_CHILD !== '1' &&
    env.ROOTLESS_DISABLE_AMBIENT_CAPS !== '1'
  );
}
