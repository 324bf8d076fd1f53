// The fd limit. node raises its soft RLIMIT_NOFILE to the hard limit at
// start (as Go programs and systemd services do): the launcher's port relay
// and REST API need the room. The programs rootless starts for the user
// (the target, `rootless exec`) get back the soft limit the user started
// rootless with, which bin/rootless records before node runs: programs
// that use select(2) break on fds above 1023. Through the Node API there
// is no such record: the target gets its caller's limit.

/** Set by bin/rootless: `ulimit -Sn` before node started. */
export const NOFILE_ENV = '_ROOTLESS_NOFILE';

/** The soft limit to give back, or undefined (unknown, or unlimited). */
export function startedNofileSoft(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env[NOFILE_ENV];
  return v !== undefined && /^[1-9][0-9]{0,9}$/.test(v) ? Number(v) : undefined;
}
