// Child half of DNS and hosts: write the session's resolv.conf and hosts
// into the state dir and make them the target's /etc/resolv.conf and
// /etc/hosts. With /etc copied up (a tmpfs of links to the original), the
// links are replaced by files of the tmpfs that the state-dir files are
// bound on: nothing the host later does to its own /etc (resolv.conf is
// often replaced, not rewritten) can take them away. Without copy-up they
// are bound over the host's files, which such a replacement undoes: warn,
// as RootlessKit does.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeNewFile } from '../../sys/state-file.js';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../sys/log.js';
import { RootlessError } from '../../sys/errors.js';
import { mount, mountFlags as M } from '../../sys/native.js';
import { hostsFile, resolvConf } from './content.js';

const FILES = [
  ['resolv.conf', '/etc/resolv.conf'],
  ['hosts', '/etc/hosts'],
] as const;

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EIO';
}

/**
 * 0644: users other than root inside read them through the bind mounts.
 * In the state dir: a new file, never written through a planted link.
 */
function writePublic(path: string, content: string): void {
  writeNewFile(path, content, 0o644);
}

export interface EtcFilesOptions {
  stateDir: string;
  nameservers: readonly string[];
  /** Bind them over /etc (false with --detach-netns: the target keeps the host's network). */
  installInEtc: boolean;
  etcCopiedUp: boolean;
}

export function installResolvAndHosts(o: EtcFilesOptions, log: Logger): void {
  let hostHosts: string | undefined;
  try {
    hostHosts = readFileSync('/etc/hosts', 'utf8');
  } catch {
    // none on the host: ours alone
  }
  writePublic(join(o.stateDir, 'resolv.conf'), resolvConf(o.nameservers));
  writePublic(join(o.stateDir, 'hosts'), hostsFile(hostname(), hostHosts));
  if (!o.installInEtc) return;

  if (!o.etcCopiedUp) {
    log.warn(
      'mounting /etc/resolv.conf and /etc/hosts without --copy-up=/etc: if the host replaces its /etc/resolv.conf, ' +
        'the session loses its own; --copy-up=/etc is recommended',
    );
  }
  for (const [name, target] of FILES) {
    const source = join(o.stateDir, name);
    if (o.etcCopiedUp) {
      try {
        unlinkSync(target);
      } catch (err) {
        if (errno(err) !== 'ENOENT') {
          throw new RootlessError(`cannot replace the copied-up ${target}: ${errno(err)}`, { step: 'network dns', code: errno(err), subject: target });
        }
      }
      writeFileSync(target, '', { mode: 0o644 });
    }
    try {
      mount(source, target, null, M.MS_BIND, null);
    } catch (err) {
      const code = (err as RootlessError).code ?? 'EIO';
      throw new RootlessError(`cannot bind ${source} over ${target}: ${code}`, {
        step: 'network dns', code, subject: target,
        ...(o.etcCopiedUp ? {} : { hint: 'try --copy-up=/etc' }),
      });
    }
  }
  log.debug({ nameservers: o.nameservers, copiedUp: o.etcCopiedUp }, 'resolv.conf and hosts installed');
}
