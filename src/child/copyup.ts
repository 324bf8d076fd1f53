// --copy-up=DIR, mode tmpfs+symlink (RootlessKit's): DIR becomes a writable
// tmpfs whose entries are symlinks into a bind of the original, kept at
// DIR/.roXXXXXXXX. Files can then be replaced inside (unlink the symlink,
// write a file) without touching the host: this is how the network drivers
// put their own /etc/resolv.conf and /etc/hosts in place.
//
// The original is taken as a detached mount tree (open_tree) before the
// tmpfs covers it, so no temporary mount point is needed anywhere (RootlessKit
// binds it under /tmp first, which is why it cannot copy up /tmp).
import { statSync, mkdirSync } from 'node:fs';
import { RootlessError, SyscallError } from '../sys/errors.js';
import { close, linkEntries, mount, moveMount, openTree } from '../sys/native.js';
import type { Logger } from '../sys/log.js';

/** RootlessKit's name for the hidden bind: ".ro" and random characters. */
export function hiddenName(random: () => number = Math.random): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = '.ro';
  for (let i = 0; i < 8; i++) s += chars[Math.floor(random() * chars.length)];
  return s;
}

function fail(dir: string, what: string, err: unknown): never {
  const code = err instanceof SyscallError ? err.code : (err as NodeJS.ErrnoException).code;
  throw new RootlessError(`--copy-up ${dir}: ${what}: ${code ?? String(err)}`, {
    step: 'copy-up', subject: dir, ...(code ? { code } : {}), cause: err,
  });
}

export function copyUp(dirs: readonly string[], log: Logger): void {
  for (const dir of dirs) copyUpOne(dir);
  log.debug({ dirs }, 'copied up');
}

function copyUpOne(dir: string): void {
  let mode: number;
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) fail(dir, 'not a directory', Object.assign(new Error(), { code: 'ENOTDIR' }));
    mode = st.mode & 0o7777;
  } catch (err) {
    if (err instanceof RootlessError) throw err;
    fail(dir, 'cannot read it', err);
  }
  let tree: number;
  try {
    tree = openTree(dir);
  } catch (err) {
    fail(dir, 'cannot take a copy of its mount', err);
  }
  const hidden = hiddenName();
  try {
    try {
      mount('tmpfs', dir, 'tmpfs', 0, `mode=${mode.toString(8).padStart(4, '0')}`);
    } catch (err) {
      fail(dir, 'cannot mount a tmpfs on it', err);
    }
    try {
      mkdirSync(`${dir}/${hidden}`, 0o700);
      moveMount(tree, `${dir}/${hidden}`);
    } catch (err) {
      fail(dir, 'cannot attach the original under the tmpfs', err);
    }
  } finally {
    close(tree);
  }
  // Each entry: a symlink into the hidden bind (relative, so it reads the
  // same from any root), or a copy of the entry's own symlink.
  try {
    linkEntries(dir, hidden);
  } catch (err) {
    fail(dir, 'cannot link the entries of the original', err);
  }
}
