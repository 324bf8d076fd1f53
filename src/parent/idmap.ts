// Building the child's uid/gid maps from the user's own id and sub-id ranges,
// and writing them through the set-uid helpers newuidmap/newgidmap.

import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { RootlessError } from '../sys/errors.js';
import type { SubIdRange } from './subid.js';
import { runHostProgram } from './host-program.js';

export interface IdMapEntry {
  inside: number;
  outside: number;
  count: number;
}

/** Kernel limit on lines in one uid_map/gid_map (since Linux 4.15). */
const MAX_MAP_LINES = 340;
/** (uid_t)-1 is invalid, so ids end at 2^32-2: exclusive end 2^32-1. */
const ID_END = 0xffffffff;
const HELPER_TIMEOUT_MS = 10_000;

function fmtRange(r: SubIdRange): string {
  return `${r.start}+${r.count} (${r.start}-${r.start + r.count - 1})`;
}

/**
 * Map `ownId` to 0 and the sub ranges, in order, to consecutive inside ids
 * from 1. Ranges the kernel or newuidmap would reject (containing ownId,
 * overlapping an earlier range, past the line or id limits) are dropped or
 * truncated with a warning rather than failing the whole map.
 */
export function buildIdMap(ownId: number, ranges: SubIdRange[]): { entries: IdMapEntry[]; warnings: string[] } {
  const entries: IdMapEntry[] = [{ inside: 0, outside: ownId, count: 1 }];
  const warnings: string[] = [];
  const accepted: SubIdRange[] = [];
  let nextInside = 1;
  let dropped = 0;

  for (const r of ranges) {
    if (!Number.isInteger(r.start) || !Number.isInteger(r.count) || r.start < 0 || r.count <= 0 || r.start + r.count > ID_END) {
      warnings.push(`skipping invalid sub-id range start=${r.start} count=${r.count}`);
      continue;
    }
    const end = r.start + r.count;
    if (ownId >= r.start && ownId < end) {
      // The kernel refuses a map whose outside ranges overlap, and our own id
      // is already mapped to 0.
      warnings.push(`skipping sub-id range ${fmtRange(r)}: it contains the user's own id ${ownId}, which is mapped to 0`);
      continue;
    }
    const clash = accepted.find((a) => r.start < a.start + a.count && a.start < end);
    if (clash !== undefined) {
      const what = clash.start === r.start && clash.count === r.count ? 'duplicates' : 'overlaps';
      warnings.push(`skipping sub-id range ${fmtRange(r)}: it ${what} range ${fmtRange(clash)}`);
      continue;
    }
    if (entries.length >= MAX_MAP_LINES) {
      dropped++;
      continue;
    }
    if (nextInside >= ID_END) {
      warnings.push(`skipping sub-id range ${fmtRange(r)}: no inside ids left below ${ID_END}`);
      continue;
    }
    // Unreachable for valid, disjoint ranges (outside ids are as scarce as
    // inside ones); a cheap guard against a map the kernel would reject.
    let count = r.count;
    if (nextInside + count > ID_END) {
      count = ID_END - nextInside;
      warnings.push(`truncating sub-id range ${fmtRange(r)} to ${count} ids: inside ids cannot exceed ${ID_END - 1}`);
    }
    accepted.push(r);
    entries.push({ inside: nextInside, outside: r.start, count });
    nextInside += count;
  }
  if (dropped > 0) {
    warnings.push(
      `the kernel accepts at most ${MAX_MAP_LINES} id-map lines: kept the first ${MAX_MAP_LINES - 1} sub-id ranges, dropped ${dropped}`,
    );
  }
  return { entries, warnings };
}

/** Arguments for newuidmap/newgidmap: pid, then inside outside count triples. */
export function newIdMapArgs(pid: number, entries: IdMapEntry[]): string[] {
  return [String(pid), ...entries.flatMap((e) => [String(e.inside), String(e.outside), String(e.count)])];
}

/** Text for /proc/PID/uid_map or gid_map; the kernel wants it in a single write(2). */
export function idMapFileText(entries: IdMapEntry[]): string {
  return entries.map((e) => `${e.inside} ${e.outside} ${e.count}\n`).join('');
}

/** Compact form for logs: "0:1001:1,1:100000:65536". */
export function describeIdMap(entries: IdMapEntry[]): string {
  return entries.map((e) => `${e.inside}:${e.outside}:${e.count}`).join(',');
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** execvp's fallback when PATH is unset, widened to the sbin dirs where the helpers may live. */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

/**
 * Absolute path of the executable `name` found through `pathEnv`, or
 * undefined. A name with a slash is checked as given.
 */
export function resolveHelper(name: string, pathEnv: string | undefined): string | undefined {
  if (name === '') return undefined;
  if (name.includes('/')) return isExecutableFile(name) ? path.resolve(name) : undefined;
  for (const dir of (pathEnv ?? DEFAULT_PATH).split(':')) {
    // An empty PATH entry means the current directory; never pick a set-uid
    // helper from wherever we happen to be.
    if (dir === '') continue;
    const candidate = path.resolve(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

// newuidmap reports the kernel's refusal with strerror(3) text; recover the
// errno name so the error carries it like any other syscall failure.
const STRERROR_CODES: ReadonlyArray<readonly [string, string]> = [
  ['Operation not permitted', 'EPERM'],
  ['Invalid argument', 'EINVAL'],
  ['Permission denied', 'EACCES'],
  ['No such process', 'ESRCH'],
];

function codeFromStderr(stderr: string): string | undefined {
  for (const [text, code] of STRERROR_CODES) if (stderr.includes(text)) return code;
  return undefined;
}

type HelperStep = 'newuidmap' | 'newgidmap';

/**
 * Why the helper `file` cannot write maps beyond the user's own id, or
 * undefined when it can: it must be set-uid root or carry the file
 * capability (cap_setuid / cap_setgid). `caps` is getcap's text ('' for
 * none); undefined when unknown (Node cannot read the xattr itself).
 */
export function helperPrivilegeProblem(step: HelperStep, file: string, st: { mode: number; uid: number }, caps: string | undefined): string | undefined {
  if ((st.mode & 0o4000) !== 0 && st.uid === 0) return undefined;
  const cap = step === 'newuidmap' ? 'cap_setuid' : 'cap_setgid';
  if (caps !== undefined && new RegExp(`${cap}[^ ]*[=+][a-z]*e`).test(caps)) return undefined;
  const found = caps === undefined ? 'its file capabilities are unknown' : caps === '' ? 'and has no file capabilities' : `and its file capabilities (${caps}) lack ${cap}`;
  return `${file} is not set-uid root ${found}: it needs to be set-uid root or have ${cap}+ep`;
}

async function failureHint(step: HelperStep, helper: string): Promise<string> {
  const subFile = step === 'newuidmap' ? '/etc/subuid' : '/etc/subgid';
  const cap = step === 'newuidmap' ? 'cap_setuid' : 'cap_setgid';
  const file = helper.includes('/') ? helper : resolveHelper(helper, process.env['PATH']);
  if (file !== undefined) {
    try {
      const st = await stat(file);
      // File capabilities cannot be read from Node (no getxattr), so only the
      // set-uid bit is checked; a missing bit may still be fine with caps.
      const problem = helperPrivilegeProblem(step, file, st, undefined);
      if (problem !== undefined) return `${problem} (setcap ${cap}+ep ${file}); install it from the Debian package uidmap`;
    } catch {
      // No hint about the file then; fall through to the ranges hint.
    }
  }
  return `check that ${subFile} grants the mapped ranges to this user`;
}

async function runHelper(step: HelperStep, helper: string, pid: number, entries: IdMapEntry[]): Promise<void> {
  const r = await runHostProgram(helper, newIdMapArgs(pid, entries), HELPER_TIMEOUT_MS);
  if (r.kind === 'ok') return;
  const subject = String(pid);
  if (r.kind === 'not started') {
    throw new RootlessError(`${step} for pid ${pid}: cannot run ${helper}: ${r.code}`, {
      step,
      code: r.code,
      subject,
      hint: r.code === 'ENOENT' ? 'install the uidmap package' : `check that ${helper} is executable`,
      cause: r.cause,
    });
  }
  const code = r.timedOut ? 'ETIMEDOUT' : codeFromStderr(r.detail);
  const hint = await failureHint(step, helper);
  throw new RootlessError(`${step} for pid ${pid} failed (${r.how})${r.detail === '' ? '' : `: ${r.detail}`}`, {
    step,
    ...(code === undefined ? {} : { code }),
    subject,
    hint,
    cause: r.cause,
  });
}

/**
 * Write both maps of `pid` through newuidmap and newgidmap, run in parallel.
 * Both are awaited before returning or throwing; if both fail, the newuidmap
 * error is thrown.
 */
export async function writeIdMapsWithHelpers(
  pid: number,
  uid: IdMapEntry[],
  gid: IdMapEntry[],
  helpers: { newuidmap: string; newgidmap: string },
): Promise<void> {
  const results = await Promise.allSettled([
    runHelper('newuidmap', helpers.newuidmap, pid, uid),
    runHelper('newgidmap', helpers.newgidmap, pid, gid),
  ]);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}
