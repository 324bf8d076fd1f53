// A Host for `rootless doctor` from a fixture directory under
// test/fixtures/doctor/: NAME/root/ holds files (over base/root/), and
// NAME/host.json the identity and what git cannot hold (modes, owners,
// devices, file capabilities, getsubids output, driver --help text), merged
// over base/host.json. A stat entry of null hides a path.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fileHost } from '../../src/doctor/host.js';
import { featuresFromText } from '../../src/doctor/network.js';
import type { FileInfo, Host } from '../../src/doctor/types.js';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/doctor/', import.meta.url));

interface StatJson {
  kind: FileInfo['kind'];
  mode: string;
  uid: number;
  gid: number;
}

interface HostJson {
  uid?: number;
  gid?: number;
  groups?: number[];
  user?: string | null;
  nodePath?: string;
  env?: Record<string, string | null>;
  stat?: Record<string, StatJson | null>;
  caps?: Record<string, string>;
  getsubids?: { uid?: string; gid?: string };
  features?: Record<string, { version: string; help: string }>;
}

function load(name: string): HostJson {
  const file = `${FIXTURES}${name}/host.json`;
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as HostJson) : {};
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURES).filter((n) => n !== 'base').sort();
}

export function fixtureHost(name: string): Host {
  const base = load('base');
  const over = name === 'base' ? {} : load(name);
  const j: HostJson = {
    ...base,
    ...over,
    env: { ...base.env, ...over.env },
    stat: { ...base.stat, ...over.stat },
    caps: { ...base.caps, ...over.caps },
    getsubids: { ...base.getsubids, ...over.getsubids },
    features: { ...base.features, ...over.features },
  };
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(j.env ?? {})) if (v !== null) env[k] = v;
  const id = { uid: j.uid!, gid: j.gid!, groups: j.groups ?? [], user: j.user ?? undefined, env, nodePath: j.nodePath ?? '/usr/bin/node' };
  const layers = [fileHost(`${FIXTURES}${name}/root`, id), fileHost(`${FIXTURES}base/root`, id)];
  const stats = j.stat ?? {};
  return {
    ...id,
    read: (p) => (p in stats && stats[p] === null ? undefined : (layers[0]!.read(p) ?? layers[1]!.read(p))),
    stat: (p) => {
      if (p in stats) {
        const s = stats[p];
        return s === null || s === undefined ? undefined : { kind: s.kind, mode: parseInt(s.mode, 8), uid: s.uid, gid: s.gid };
      }
      return layers[0]!.stat(p) ?? layers[1]!.stat(p);
    },
    list: (p) => {
      const a = layers[0]!.list(p);
      const b = layers[1]!.list(p);
      return a === undefined && b === undefined ? undefined : [...new Set([...(a ?? []), ...(b ?? [])])];
    },
    fileCaps: (p) => j.caps?.[p],
    getsubids: (kind) => j.getsubids?.[kind],
    features: async (p) => {
      const f = j.features?.[p];
      return f === undefined ? undefined : featuresFromText(f.version, f.help);
    },
  };
}
