// Sub-id lookup: which subordinate uid/gid ranges the user may map.
// Sources are the shadow files (/etc/subuid, /etc/subgid; subuid(5)) and the
// getsubids(1) tool, which also sees NSS-provided ranges (nsswitch "subid:").

import { readFile } from 'node:fs/promises';
import { RootlessError } from '../sys/errors.js';
import { runHostProgram } from './host-program.js';

export interface SubIdRange {
  start: number;
  count: number;
}

export type SubIdKind = 'uid' | 'gid';

/**
 * The user whose ranges are wanted. Both /etc/subuid and /etc/subgid are keyed
 * by the user *name* or the numeric *uid* (never the gid), as shadow's
 * newuidmap/newgidmap match them, so `id` is the uid for either kind.
 */
export interface SubIdUser {
  /** User name; undefined when it cannot be resolved (no passwd entry). */
  name: string | undefined;
  /** Numeric uid. */
  id: number;
}

export interface SubIdLookup {
  ranges: SubIdRange[];
  /** Where the ranges came from; 'none' exactly when `ranges` is empty. */
  origin: 'file' | 'getsubids' | 'none';
  warnings: string[];
}

export interface SubIdLookupOptions {
  subuidFile?: string;
  subgidFile?: string;
  /** getsubids binary; default 'getsubids', found through PATH. */
  getsubids?: string;
}

/** (uid_t)-1 is never a valid id, so a range must end at or below 2^32-2. */
const ID_LIMIT = 0xffffffff;
const GETSUBIDS_TIMEOUT_MS = 5000;
const DECIMAL = /^[0-9]+$/;

function ownerMatches(owner: string, user: SubIdUser): boolean {
  if (user.name !== undefined && owner === user.name) return true;
  // Numeric owners are compared by value, as shadow does ("01000" is uid 1000).
  return DECIMAL.test(owner) && Number(owner) === user.id;
}

/** Why start/count are not a usable range, or undefined when they are. */
function rangeProblem(startText: string, countText: string): string | undefined {
  if (!DECIMAL.test(startText)) return `start ${JSON.stringify(startText)} is not a decimal number`;
  if (!DECIMAL.test(countText)) return `count ${JSON.stringify(countText)} is not a decimal number`;
  const start = Number(startText);
  const count = Number(countText);
  if (count === 0) return 'count is 0';
  if (start + count > ID_LIMIT) return `range ${start}+${count} goes beyond id ${ID_LIMIT - 1}`;
  return undefined;
}

/**
 * Ranges for `user` in the text of a subuid(5)/subgid(5) file, in file order.
 * Malformed lines are skipped; a warning is produced only when the line may
 * concern this user or cannot be attributed to anyone, so other users' broken
 * entries do not flood every start.
 */
export function parseSubIdFile(
  text: string,
  user: SubIdUser,
  fileName: string,
): { ranges: SubIdRange[]; warnings: string[] } {
  const ranges: SubIdRange[] = [];
  const warnings: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${fileName}:${i + 1}`;
    const fields = line.split(':').map((f) => f.trim());
    const owner = fields[0] ?? '';
    if (fields.length < 2 || owner === '') {
      warnings.push(`${where}: ignoring unparsable line (expected name_or_uid:start:count)`);
      continue;
    }
    if (!ownerMatches(owner, user)) continue;
    if (fields.length !== 3) {
      warnings.push(`${where}: ignoring entry for ${owner}: ${fields.length} fields, expected 3 (name_or_uid:start:count)`);
      continue;
    }
    const startText = fields[1] ?? '';
    const countText = fields[2] ?? '';
    const problem = rangeProblem(startText, countText);
    if (problem !== undefined) {
      warnings.push(`${where}: ignoring entry for ${owner}: ${problem}`);
      continue;
    }
    ranges.push({ start: Number(startText), count: Number(countText) });
  }
  return { ranges, warnings };
}

const GETSUBIDS_LINE = /^\s*[0-9]+:\s+\S+\s+([0-9]+)\s+([0-9]+)\s*$/;

/** Ranges from `getsubids [-g] USER` output ("0: alice 100000 65536"); other lines are ignored. */
export function parseGetsubidsOutput(text: string): SubIdRange[] {
  const ranges: SubIdRange[] = [];
  for (const line of text.split('\n')) {
    const m = GETSUBIDS_LINE.exec(line);
    if (m === null) continue;
    const startText = m[1] ?? '';
    const countText = m[2] ?? '';
    if (rangeProblem(startText, countText) !== undefined) continue;
    ranges.push({ start: Number(startText), count: Number(countText) });
  }
  return ranges;
}

interface GetsubidsResult {
  ranges: SubIdRange[];
}

/** Run getsubids; throws RootlessError (step 'getsubids') when it is missing or fails. */
async function runGetsubids(binary: string, kind: SubIdKind, who: string): Promise<GetsubidsResult> {
  const args = kind === 'gid' ? ['-g', who] : [who];
  const r = await runHostProgram(binary, args, GETSUBIDS_TIMEOUT_MS);
  if (r.kind === 'ok') return { ranges: parseGetsubidsOutput(r.stdout) };
  if (r.kind === 'not started') {
    throw new RootlessError(`cannot run ${binary}: ${r.code}`, {
      step: 'getsubids',
      code: r.code,
      subject: binary,
      ...(r.code === 'ENOENT' ? { hint: 'install getsubids (Debian package uidmap) or list the ranges in /etc/subuid and /etc/subgid' } : {}),
      cause: r.cause,
    });
  }
  throw new RootlessError(`${binary} ${args.join(' ')} failed (${r.how})${r.detail === '' ? '' : `: ${r.detail}`}`, {
    step: 'getsubids',
    ...(r.timedOut ? { code: 'ETIMEDOUT' } : {}),
    subject: who,
    cause: r.cause,
  });
}

type FileRead = { kind: 'text'; text: string } | { kind: 'missing' };

async function readSubIdFile(path: string): Promise<FileRead> {
  try {
    return { kind: 'text', text: await readFile(path, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing' };
    throw new RootlessError(`cannot read ${path}: ${code ?? String(err)}`, {
      step: 'read sub-id file',
      ...(code === undefined ? {} : { code }),
      subject: path,
      cause: err,
    });
  }
}

function describeUser(user: SubIdUser): string {
  return user.name === undefined ? `uid ${user.id}` : `${user.name} (uid ${user.id})`;
}

/**
 * Find the user's sub-id ranges.
 * - 'static': the file only (missing file: no ranges).
 * - 'dynamic': getsubids only; a missing or failing getsubids throws.
 * - 'auto': the file, and getsubids only when the file yields no range for the
 *   user; a missing or failing getsubids then is a warning, not an error.
 */
export async function lookupSubIds(
  kind: SubIdKind,
  source: 'auto' | 'static' | 'dynamic',
  user: SubIdUser,
  opts: SubIdLookupOptions = {},
): Promise<SubIdLookup> {
  const file = kind === 'uid' ? (opts.subuidFile ?? '/etc/subuid') : (opts.subgidFile ?? '/etc/subgid');
  const binary = opts.getsubids ?? 'getsubids';
  // getsubids takes a user name; without one, the uid is the best we can pass.
  const who = user.name ?? String(user.id);
  const warnings: string[] = [];

  if (source === 'dynamic') {
    const { ranges } = await runGetsubids(binary, kind, who);
    if (ranges.length === 0) warnings.push(`${binary} printed no ${kind} ranges for ${describeUser(user)}`);
    return { ranges, origin: ranges.length > 0 ? 'getsubids' : 'none', warnings };
  }

  let fileRead: FileRead;
  try {
    fileRead = await readSubIdFile(file);
  } catch (err) {
    if (source === 'static') throw err;
    // In auto mode getsubids may still answer; keep the reason for the log.
    warnings.push(err instanceof Error ? err.message : String(err));
    fileRead = { kind: 'missing' };
  }
  if (fileRead.kind === 'text') {
    const parsed = parseSubIdFile(fileRead.text, user, file);
    warnings.push(...parsed.warnings);
    if (parsed.ranges.length > 0) return { ranges: parsed.ranges, origin: 'file', warnings };
  }
  if (source === 'static') return { ranges: [], origin: 'none', warnings };

  const absent = fileRead.kind === 'missing' ? `${file} does not exist` : `${file} has no entry for ${describeUser(user)}`;
  try {
    const { ranges } = await runGetsubids(binary, kind, who);
    if (ranges.length > 0) return { ranges, origin: 'getsubids', warnings };
    warnings.push(`${absent}, and ${binary} printed no ${kind} ranges`);
  } catch (err) {
    const reason = err instanceof RootlessError ? err.message : String(err);
    warnings.push(`${absent}, and getsubids gave nothing: ${reason}`);
  }
  return { ranges: [], origin: 'none', warnings };
}

/** One line of a subuid(5)/subgid(5) file, whoever owns it. */
export interface OwnedSubIdRange extends SubIdRange {
  owner: string;
  /** 1-based line number. */
  line: number;
}

/** Every well-formed range in a subuid/subgid file, any owner, in file order. */
export function parseAllSubIdRanges(text: string): OwnedSubIdRange[] {
  const out: OwnedSubIdRange[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fields = (lines[i] ?? '').trim().split(':').map((f) => f.trim());
    if (fields.length !== 3 || fields[0] === '' || fields[0]!.startsWith('#')) continue;
    if (rangeProblem(fields[1]!, fields[2]!) !== undefined) continue;
    out.push({ owner: fields[0]!, start: Number(fields[1]), count: Number(fields[2]), line: i + 1 });
  }
  return out;
}

/** shadow's SUB_UID_MIN default (login.defs(5)): ranges start here at the lowest. */
export const SUB_ID_FLOOR = 100000;
/** What a user needs for a full container image (ids 0-65535). */
export const SUB_ID_COUNT = 65536;

/**
 * A range of `count` ids that is free on this machine: after every range in
 * `taken` (both files' ranges, so one A-B serves subuid and subgid), at
 * SUB_ID_FLOOR at the lowest, and not containing `ownId`. Undefined when the
 * id space is exhausted.
 */
export function freeSubIdRange(taken: readonly SubIdRange[], ownId: number, count = SUB_ID_COUNT): SubIdRange | undefined {
  let start = SUB_ID_FLOOR;
  for (const r of taken) start = Math.max(start, r.start + r.count);
  if (ownId >= start && ownId < start + count) start = ownId + 1;
  if (start + count > ID_LIMIT) return undefined;
  return { start, count };
}

/** Reads both files (missing ones count as empty) and picks a free range for the user. */
export async function suggestSubIdRange(ownId: number, opts: SubIdLookupOptions = {}): Promise<SubIdRange | undefined> {
  const read = async (file: string): Promise<OwnedSubIdRange[]> => {
    try {
      return parseAllSubIdRanges(await readFile(file, 'utf8'));
    } catch {
      return [];
    }
  };
  const [uids, gids] = await Promise.all([read(opts.subuidFile ?? '/etc/subuid'), read(opts.subgidFile ?? '/etc/subgid')]);
  return freeSubIdRange([...uids, ...gids], ownId);
}

/**
 * The command that grants `range` to the user, e.g. "usermod --add-subuids
 * 165536-231071 --add-subgids 165536-231071 alice" (with `sudo`, prefixed
 * where it takes effect).
 */
export function grantSubIdsCommand(user: SubIdUser, range: SubIdRange, sudo = false): string {
  const su = sudo ? 'sudo ' : '';
  const ab = `${range.start}-${range.start + range.count - 1}`;
  // usermod needs a login name; a uid without one goes into the files directly.
  if (user.name === undefined) return `echo ${user.id}:${range.start}:${range.count} | ${su}tee -a /etc/subuid /etc/subgid`;
  return `${su}usermod --add-subuids ${ab} --add-subgids ${ab} ${user.name}`;
}
