// The user's sub-id ranges in /etc/subuid and /etc/subgid (or from
// getsubids): enough ids, not another user's, not the user's own uid; when
// absent, a range that is free on this machine.
import {
  SUB_ID_COUNT,
  freeSubIdRange,
  grantSubIdsCommand,
  parseAllSubIdRanges,
  parseGetsubidsOutput,
  parseSubIdFile,
  type OwnedSubIdRange,
  type SubIdRange,
  type SubIdUser,
} from '../parent/subid.js';
import type { Check, Host } from './types.js';

const fmt = (r: SubIdRange): string => `${r.start}-${r.start + r.count - 1}`;
const overlaps = (a: SubIdRange, b: SubIdRange): boolean => a.start < b.start + b.count && b.start < a.start + a.count;

export function subIdChecks(host: Host): Check[] {
  const user: SubIdUser = { name: host.user, id: host.uid };
  const files = { uid: '/etc/subuid', gid: '/etc/subgid' } as const;
  const byKind = { uid: parseAllSubIdRanges(host.read(files.uid) ?? ''), gid: parseAllSubIdRanges(host.read(files.gid) ?? '') };
  // One free A-B for both files, so one usermod line grants both.
  const free = freeSubIdRange([...byKind.uid, ...byKind.gid], host.uid);
  const grant = free === undefined ? 'no free range of 65536 ids is left: remove unused ranges from /etc/subuid and /etc/subgid' : grantSubIdsCommand(user, free, true);
  const who = host.user ?? `uid ${host.uid}`;

  return (['uid', 'gid'] as const).map((kind): Check => {
    const name = `sub${kind}`;
    const file = files[kind];
    const text = host.read(file);
    let ranges: SubIdRange[] = [];
    let origin: string = file;
    const warnings: string[] = [];
    if (text !== undefined) {
      const parsed = parseSubIdFile(text, user, file);
      ranges = parsed.ranges;
      warnings.push(...parsed.warnings);
    }
    if (ranges.length === 0) {
      const out = host.getsubids(kind);
      if (out !== undefined) {
        ranges = parseGetsubidsOutput(out);
        origin = 'getsubids';
      }
    }
    if (ranges.length === 0) {
      return { name, status: 'fail', message: `no sub-${kind} range for ${who} in ${file}${text === undefined ? ' (no such file)' : ''} nor from getsubids: rootless maps only your own ${kind}`, fix: grant };
    }
    const problems: string[] = [];
    const mine = (o: OwnedSubIdRange): boolean => o.owner === host.user || (/^[0-9]+$/.test(o.owner) && Number(o.owner) === host.uid);
    for (const r of ranges) {
      const own = kind === 'uid' ? host.uid : host.gid;
      if (own >= r.start && own < r.start + r.count) problems.push(`${fmt(r)} contains your own ${kind} ${own}`);
      const clash = byKind[kind].find((o) => !mine(o) && overlaps(o, r));
      if (clash) problems.push(`${fmt(r)} overlaps ${clash.owner}'s range ${fmt(clash)} (${file}:${clash.line})`);
    }
    const total = ranges.reduce((n, r) => n + r.count, 0);
    if (total < SUB_ID_COUNT) problems.push(`only ${total} ids (${ranges.map(fmt).join(', ')}); images and most tools need ${SUB_ID_COUNT}`);
    if (problems.length > 0) {
      const fix = free === undefined
        ? grant
        : [
            ...ranges.map((r) => `sudo usermod --del-sub${kind}s ${fmt(r)} ${host.user ?? host.uid}`),
            `sudo usermod --add-sub${kind}s ${fmt(free)} ${host.user ?? host.uid}`,
          ].join('\n');
      return { name, status: 'fail', message: `${who}'s sub-${kind} range (${origin}): ${problems.join('; ')}`, fix };
    }
    const extra = warnings.length > 0 ? ` (${warnings.join('; ')})` : '';
    return { name, status: warnings.length > 0 ? 'warn' : 'ok', message: `${ranges.map(fmt).join(', ')} (${total} ids, ${origin})${extra}` };
  });
}
