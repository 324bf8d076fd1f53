// Files in a state directory, which may be the user's own (--state-dir):
// whatever is at a name (a planted symlink or hard link too) is removed,
// and the new file is created with O_EXCL|O_NOFOLLOW, so nothing is ever
// written through a link to somewhere else.
import { closeSync, constants as C, fchmodSync, openSync, unlinkSync, writeFileSync } from 'node:fs';

/** Remove a directory entry (never what a link points to); absent is fine. */
export function removeEntry(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** A new file at `path` with `content` and exactly `mode`, replacing what was there. */
export function writeNewFile(path: string, content: string | Buffer, mode: number): void {
  removeEntry(path);
  const fd = openSync(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode);
  try {
    fchmodSync(fd, mode); // not narrowed by the umask
    writeFileSync(fd, content);
  } finally {
    closeSync(fd);
  }
}
