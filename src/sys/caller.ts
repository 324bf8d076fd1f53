// What the caller handed rootless, as the kernel gave it: argv, environment
// and working directory, as bytes. Node decodes argv and the environment as
// UTF-8 (a byte that is not becomes U+FFFD), and bin/rootless's /bin/sh
// rebuilds the environment it passes on: it drops names that are not shell
// identifiers and entries without '=', and adds PWD. So:
// - argv: the tail of /proc/self/cmdline (the shell passes "$@" unchanged);
// - environment: the shell's own /proc/$$/environ, which bin/rootless hands
//   over in hex on the fd named by _ROOTLESS_ENVIRON_FD; without it (node
//   started directly), /proc/self/environ less bin/rootless's variables;
// - cwd: readlink /proc/self/cwd.
import { closeSync, fstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { envDelete, envGet, envSet, splitNul } from './bytes.js';

export const ENVIRON_FD_ENV = '_ROOTLESS_ENVIRON_FD';
/** bin/rootless keeps NODE_EXTRA_CA_CERTS away from our own node in this variable. */
export const SAVED_CA_ENV = '_ROOTLESS_SAVED_NODE_EXTRA_CA_CERTS';
/** What bin/rootless adds for node: never the caller's. */
const WRAPPER_VARS = [ENVIRON_FD_ENV, SAVED_CA_ENV, '_ROOTLESS_SIGIGN', '_ROOTLESS_INVOKED_AS', '_ROOTLESS_NOFILE'];

let fromWrapper: Buffer[] | undefined;
/** Children this process inherited from the shell it replaced: the here-document writer, zombies. */
let inherited: { writer: number | undefined; others: number[] } = { writer: undefined, others: [] };

function children(): number[] {
  try {
    return readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The child that holds the other end of pipe `fd` (the shell's here-document writer). */
function holderOf(fd: number, pids: number[]): number | undefined {
  const link = `pipe:[${fstatSync(fd).ino}]`;
  for (const pid of pids) {
    try {
      for (const f of readdirSync(`/proc/${pid}/fd`)) if (readlinkSync(`/proc/${pid}/fd/${f}`) === link) return pid;
    } catch {
      // gone, or not ours
    }
  }
  return undefined;
}

/**
 * Reads and closes the environment bin/rootless passed on its fd: first
 * thing at start, before anything is spawned (the fd must reach no one).
 */
export function takeWrapperEnvironment(): void {
  const fdText = process.env[ENVIRON_FD_ENV];
  delete process.env[ENVIRON_FD_ENV];
  const fd = Number(fdText);
  if (fdText === undefined || !Number.isInteger(fd) || fd < 3) return;
  let text = '';
  try {
    const pids = children();
    const writer = holderOf(fd, pids);
    inherited = { writer, others: pids.filter((p) => p !== writer) };
    text = readFileSync(fd, 'latin1');
  } catch {
    return;
  } finally {
    try {
      closeSync(fd);
    } catch {
      // not open
    }
  }
  // od's lines, then "." when od succeeded.
  const body = text.trimEnd();
  if (!body.endsWith('.')) return;
  fromWrapper = splitNul(Buffer.from(body.slice(0, -1).replace(/\s+/g, ''), 'hex'));
}

/** Waits for the shell's here-document writer (it has written all) and reaps zombies we inherited. */
export async function reapInheritedChildren(): Promise<void> {
  const { writer, others } = inherited;
  inherited = { writer: undefined, others: [] };
  if (writer === undefined && others.length === 0) return;
  const { reapChild } = await import('./native.js');
  for (const pid of others) {
    try {
      reapChild(pid, false);
    } catch {
      // not a child (any more)
    }
  }
  if (writer !== undefined) {
    try {
      reapChild(writer, true);
    } catch {
      // reaped already
    }
  }
}

/** The caller's environment entries, in order, as bytes (duplicates and entries without '=' too). */
export function callerEnvironment(): Buffer[] {
  if (fromWrapper) return [...fromWrapper];
  let env: Buffer[];
  try {
    env = splitNul(readFileSync('/proc/self/environ'));
  } catch {
    env = Object.entries(process.env).map(([k, v]) => Buffer.from(`${k}=${v ?? ''}`));
  }
  const saved = envGet(env, SAVED_CA_ENV);
  env = envDelete(env, ...WRAPPER_VARS);
  if (saved !== undefined && envGet(env, 'NODE_EXTRA_CA_CERTS') === undefined) env = envSet(env, 'NODE_EXTRA_CA_CERTS', saved);
  return env;
}

/** Whether `raw` decodes to `s` as node decoded it (a byte that is not UTF-8 became U+FFFD). */
function decodesTo(raw: Buffer, s: string): boolean {
  const text = raw.toString('utf8');
  return text === s || (text.includes('\ufffd') && s.includes('\ufffd'));
}

/**
 * The bytes of the last `decoded.length` arguments this process was given
 * (e.g. the command after `--`), from /proc/self/cmdline; the UTF-8 of
 * `decoded` when the two do not line up.
 */
export function callerArgv(decoded: readonly string[]): Buffer[] {
  const utf8 = decoded.map((s) => Buffer.from(s));
  let cmdline: Buffer[];
  try {
    cmdline = splitNul(readFileSync('/proc/self/cmdline'));
  } catch {
    return utf8;
  }
  if (cmdline.length < decoded.length + 1) return utf8;
  const tail = cmdline.slice(cmdline.length - decoded.length);
  return tail.every((raw, i) => decodesTo(raw, decoded[i]!)) ? tail : utf8;
}

/** The working directory's path as bytes. */
export function callerCwd(): Buffer {
  try {
    return readlinkSync('/proc/self/cwd', { encoding: 'buffer' });
  } catch {
    return Buffer.from(process.cwd());
  }
}
