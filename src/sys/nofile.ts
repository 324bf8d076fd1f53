// The fd limit. node raises its soft RLIMIT_NOFILE to the hard limit at
// start (as Go programs and systemd services do): the launcher's port relay
// and REST API need the room. The programs rootless starts for the user
// (the target, `rootless exec`) get back the soft limit the user started
// rootless with, which bin/rootless records before node runs: programs
// that use select(2) break on fds above 1023. Through the Node API
// bin/rootless records the calling process's limit: the target gets that.
// A session's agent is node too: its commands get the limit its caller
// had, which the session client reads here and hands to it.
import { readFileSync } from 'node:fs';

/** Set by bin/rootless: `ulimit -Sn` before node started. */
export const NOFILE_ENV = '_ROOTLESS_NOFILE';

/** The soft limit to give back, or undefined (unknown, or unlimited). */
export function startedNofileSoft(env: NodeJS.ProcessEnv = process.env): number | undefined {
  return parseNofileSoft(env[NOFILE_ENV]);
}

/** A soft limit handed over as text, or undefined (absent, unlimited, not a count). */
export function parseNofileSoft(v: string | undefined): number | undefined {
  return v !== undefined && /^[1-9][0-9]{0,9}$/.test(v) ? Number(v) : undefined;
}

/** This process's soft limit now (/proc/self/limits), or undefined (unlimited, unreadable). */
export function currentNofileSoft(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    return parseNofileSoft(line?.slice('Max open files'.length).trim().split(/\s+/)[0]);
  } catch {
    return undefined;
  }
}
