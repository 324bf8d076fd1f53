// Host views: the real machine, or files under another root directory (a
// fake root for tests) with the identity given.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { cacheFile, programFeatures } from '../net/probe.js';
import type { FileInfo, Host } from './types.js';

function kindOf(st: import('node:fs').Stats): FileInfo['kind'] {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isCharacterDevice() ? 'char' : 'other';
}

export interface FileHostIdentity {
  uid: number;
  gid: number;
  groups: number[];
  user: string | undefined;
  env: Record<string, string | undefined>;
  nodePath: string;
}

/** Files, directories and stat under `root` ("/" for the real machine). */
export function fileHost(root: string, id: FileHostIdentity): Pick<Host, 'read' | 'stat' | 'list'> & FileHostIdentity {
  const at = (p: string): string => (root === '/' ? p : join(root, p));
  return {
    ...id,
    read(p) {
      try {
        return readFileSync(at(p), 'utf8');
      } catch {
        return undefined;
      }
    },
    stat(p) {
      try {
        const st = statSync(at(p));
        return { kind: kindOf(st), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      } catch {
        return undefined;
      }
    },
    list(p) {
      try {
        return readdirSync(at(p));
      } catch {
        return undefined;
      }
    },
  };
}

const QUIET = { debug: () => {} } as unknown as Parameters<typeof programFeatures>[1];
const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function tool(file: string, args: string[]): string | undefined {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000, env: { PATH: TOOL_PATH } });
  } catch {
    return undefined;
  }
}

/** The machine this process runs on, as the user it runs as. */
export function realHost(): Host {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = undefined;
  }
  const files = fileHost('/', {
    uid: process.getuid!(),
    gid: process.getgid!(),
    groups: process.getgroups?.() ?? [],
    user,
    env: { ...process.env },
    nodePath: process.env.ROOTLESS_NODE ?? process.execPath,
  });
  return {
    ...files,
    fileCaps(p) {
      const out = tool('getcap', [p]);
      if (out === undefined) return undefined;
      // "/usr/bin/newuidmap cap_setuid=ep" (or "... = cap_setuid+ep" on old libcap); '' for none.
      return out.trim().slice(p.length).replace(/^\s*=?\s*/, '');
    },
    getsubids(kind) {
      if (user === undefined) return undefined;
      return tool('getsubids', kind === 'gid' ? ['-g', user] : [user]);
    },
    async features(p) {
      try {
        return await programFeatures(p, QUIET, cacheFile(process.env));
      } catch {
        return undefined;
      }
    },
  };
}

/** An executable `name` through the host's PATH (or `name` itself with a slash). */
export function which(host: Pick<Host, 'stat' | 'env'>, name: string, pathEnv = host.env.PATH ?? TOOL_PATH): string | undefined {
  const candidates = name.includes('/') ? [name] : pathEnv.split(':').filter((d) => d.startsWith('/')).map((d) => `${d.replace(/\/+$/, '')}/${name}`);
  for (const c of candidates) {
    const st = host.stat(c);
    if (st && st.kind === 'file' && (st.mode & 0o111) !== 0) return c;
  }
  return undefined;
}
