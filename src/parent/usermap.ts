// Decides how the child's user namespace is mapped, and writes the maps.
//  - "subids": 0 -> the user, then the user's sub-id ranges from 1 upward,
//    written by the set-uid helpers newuidmap/newgidmap.
//  - "single": only 0 -> the user, setgroups denied, written by us (no
//    privilege needed). What --subid-source=none asks for, and what
//    --subid-source=auto falls back to when there are no sub-ids.
import { writeFile } from 'node:fs/promises';
import { RootlessError } from '../sys/errors.js';
import { buildIdMap, describeIdMap, idMapFileText, resolveHelper, writeIdMapsWithHelpers, type IdMapEntry } from './idmap.js';
import { grantSubIdsCommand, lookupSubIds, suggestSubIdRange, type SubIdLookupOptions } from './subid.js';

export type SubIdSource = 'auto' | 'static' | 'dynamic' | 'none';

export interface UserIdentity {
  name: string | undefined;
  uid: number;
  gid: number;
}

export interface UserMapPlan {
  mode: 'subids' | 'single';
  uid: IdMapEntry[];
  gid: IdMapEntry[];
  helpers?: { newuidmap: string; newgidmap: string };
  /** Things the user should know (printed as warnings). */
  warnings: string[];
  /** Details for the debug log. */
  notes: string[];
}

function single(user: UserIdentity, warnings: string[], notes: string[]): UserMapPlan {
  return {
    mode: 'single',
    uid: [{ inside: 0, outside: user.uid, count: 1 }],
    gid: [{ inside: 0, outside: user.gid, count: 1 }],
    warnings,
    notes,
  };
}

function fallbackWarning(user: UserIdentity, why: string, fix: string): string {
  return (
    `${why}: mapping only uid ${user.uid} and gid ${user.gid} to 0 inside. ` +
    `Other ids cannot be used in the namespace (chown, setuid and most container engines will fail). ` +
    `${fix}`
  );
}

/** "run as root: usermod --add-subuids A-B ..." with a range that is free on this machine. */
async function grantLine(user: UserIdentity, lookupOpts: SubIdLookupOptions): Promise<string> {
  const range = await suggestSubIdRange(user.uid, lookupOpts);
  if (range === undefined) return 'grant this user 65536 sub-ids in /etc/subuid and /etc/subgid (as root; no free range is left)';
  return `run as root: ${grantSubIdsCommand({ name: user.name, id: user.uid }, range)}`;
}

export async function planUserMap(
  source: SubIdSource,
  user: UserIdentity,
  pathEnv: string | undefined,
  lookupOpts: SubIdLookupOptions = {},
): Promise<UserMapPlan> {
  if (source === 'none') return single(user, [], ['--subid-source=none: single mapping']);

  const who = user.name ?? String(user.uid);
  const newuidmap = resolveHelper('newuidmap', pathEnv);
  const newgidmap = resolveHelper('newgidmap', pathEnv);
  if (!newuidmap || !newgidmap) {
    const missing = !newuidmap ? 'newuidmap' : 'newgidmap';
    if (source !== 'auto') {
      throw new RootlessError(`${missing} not found in PATH (--subid-source=${source})`, {
        step: missing, code: 'ENOENT', hint: 'install the uidmap package (Debian/Ubuntu: apt-get install uidmap)',
      });
    }
    return single(user, [fallbackWarning(user, `${missing} not found in PATH`, 'Install the uidmap package.')], []);
  }

  const [uids, gids] = await Promise.all([
    lookupSubIds('uid', source, { name: user.name, id: user.uid }, lookupOpts),
    lookupSubIds('gid', source, { name: user.name, id: user.uid }, lookupOpts),
  ]);
  const notes = [...uids.warnings, ...gids.warnings];
  const uidMap = buildIdMap(user.uid, uids.ranges);
  const gidMap = buildIdMap(user.gid, gids.ranges);
  const warnings = [...uidMap.warnings, ...gidMap.warnings];
  const missing = uidMap.entries.length <= 1 ? 'subuid' : gidMap.entries.length <= 1 ? 'subgid' : undefined;
  if (missing) {
    const why = `no sub-${missing === 'subuid' ? 'uid' : 'gid'} range for ${who} (${source === 'dynamic' ? 'getsubids' : `/etc/${missing}`})`;
    const grant = await grantLine(user, lookupOpts);
    if (source !== 'auto') {
      throw new RootlessError(`${why} (--subid-source=${source})`, { step: 'sub-id lookup', code: 'ENOENT', hint: grant });
    }
    return single(user, [...warnings, fallbackWarning(user, why, `To fix it, ${grant}, or pass --subid-source=none to silence this.`)], notes);
  }
  notes.push(`uid map ${describeIdMap(uidMap.entries)} (${uids.origin})`, `gid map ${describeIdMap(gidMap.entries)} (${gids.origin})`);
  return { mode: 'subids', uid: uidMap.entries, gid: gidMap.entries, helpers: { newuidmap, newgidmap }, warnings, notes };
}

export async function writeUserMap(pid: number, plan: UserMapPlan): Promise<void> {
  if (plan.mode === 'subids') {
    await writeIdMapsWithHelpers(pid, plan.uid, plan.gid, plan.helpers!);
    return;
  }
  // Without CAP_SETGID in the parent namespace, gid_map may only be written
  // once setgroups is denied (user_namespaces(7)).
  const write = async (file: string, text: string): Promise<void> => {
    try {
      await writeFile(`/proc/${pid}/${file}`, text);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      throw new RootlessError(`write /proc/${pid}/${file}: ${code}`, { step: `write ${file}`, code, subject: String(pid), cause: err });
    }
  };
  await write('setgroups', 'deny');
  await Promise.all([write('uid_map', idMapFileText(plan.uid)), write('gid_map', idMapFileText(plan.gid))]);
}
