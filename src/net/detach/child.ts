// --detach-netns, child half: the target stays in the host's network
// namespace; a new one is created and bound at $STATE/netns (in the
// session's mount namespace) for programs that enter it themselves, as
// BuildKit and nerdctl do. Done before ChildInitUserNSCompleted, so the
// parent's driver finds it.
import { writeNewFile } from '../../sys/state-file.js';
import { join } from 'node:path';
import { RootlessError } from '../../sys/errors.js';
import { createDetachedNetns } from '../../sys/native.js';
import { NETNS_FILE } from './parent.js';

export function createDetachedNetnsFile(stateDir: string): string {
  const path = join(stateDir, NETNS_FILE);
  try {
    // A mount point must exist: a new empty file, never a planted link.
    writeNewFile(path, '', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    throw new RootlessError(`--detach-netns: cannot create ${path}: ${code}`, { step: 'detach netns', code, subject: path });
  }
  createDetachedNetns(path);
  return path;
}
