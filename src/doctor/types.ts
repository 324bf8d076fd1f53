// What `rootless doctor` checks and reports, and the view of the machine the
// checks read. Every check is a function of a Host, so unit tests can hand
// in a fake root (files from a fixture directory, a chosen uid and env).
import type { ProgramFeatures } from '../net/probe.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  /** Stable identifier, e.g. "subuid". */
  name: string;
  status: CheckStatus;
  /** One line: what was found. */
  message: string;
  /** When not ok: the command(s) to paste, one per line. */
  fix?: string;
}

export interface FileInfo {
  kind: 'file' | 'dir' | 'char' | 'other';
  mode: number;
  uid: number;
  gid: number;
}

export interface Host {
  /** Text of an absolute path (/etc/..., /proc/...), undefined when unreadable. */
  read(path: string): string | undefined;
  /** stat(2) of an absolute path (symlinks followed), undefined when absent. */
  stat(path: string): FileInfo | undefined;
  /** Entries of a directory, undefined when absent. */
  list(path: string): string[] | undefined;
  /** File capabilities as getcap prints them ("cap_setuid=ep"), '' for none, undefined when unknown. */
  fileCaps(path: string): string | undefined;
  /** `getsubids [-g] USER` output, undefined when getsubids cannot run. */
  getsubids(kind: 'uid' | 'gid'): string | undefined;
  /** --version/--help of a network driver, undefined when it cannot be probed. */
  features(path: string): Promise<ProgramFeatures | undefined>;
  uid: number;
  gid: number;
  groups: number[];
  /** User name, undefined without a passwd entry. */
  user: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  /** The node binary that creates the namespaces (what an AppArmor profile must name). */
  nodePath: string;
}
