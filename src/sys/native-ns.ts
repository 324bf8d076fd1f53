// Typed binding to the isolation area's part of the addon (addon/ns.cc).
import { loadAddon, wrap } from './addon.js';

interface NsAddon {
  openTree(path: string): number;
  moveMount(fd: number, target: string): void;
  linkEntries(dir: string, hidden: string): number;
  killNamespaceMembers(usernsFd: number): number;
  startStateDirGuard(dir: string, names: string[], removeDir: boolean, usernsFd?: number, removeBase?: boolean): { pid: number; pidfd: number };
  stopStateDirGuard(pidfd: number): void;
}

const addon = loadAddon<NsAddon>();

/** fd of a detached copy of the mount tree at `path` (open_tree, recursive). */
export const openTree = wrap(addon.openTree);
/** Attach a tree from openTree at `target`. */
export const moveMount = wrap(addon.moveMount);
/** In dir, a symlink for each entry of dir/hidden (into it, or to the entry's own target); returns how many. */
export const linkEntries = wrap(addon.linkEntries);
/** SIGKILL every process in the user namespace open at usernsFd, or nested in it; returns how many. */
export const killNamespaceMembers = wrap(addon.killNamespaceMembers);
/** Start the process that, if the launcher dies, kills what is left in the
 * session's user namespace and removes the state dir's files (see addon/ns.cc). */
export const startStateDirGuard = wrap(addon.startStateDirGuard);
/** Kill and reap the guard (the session ended normally). */
export const stopStateDirGuard = wrap(addon.stopStateDirGuard);
