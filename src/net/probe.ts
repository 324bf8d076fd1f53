// What the installed driver program supports, asked once and remembered:
// RootlessKit runs `slirp4netns --help` (and more) on every start, which
// is a large part of its start-up time. Here the answer is cached per
// program file (path, inode, size, times) in $XDG_CACHE_HOME/rootless, so
// a start costs one stat and one small read; a new or changed binary is
// probed again.
import { lstatSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../sys/log.js';

export interface ProgramFeatures {
  /** The first line of `--version`, e.g. "slirp4netns version 1.2.0". */
  version: string;
  /** Every long option its `--help` mentions, e.g. "--enable-sandbox". */
  options: string[];
}

interface CacheEntry extends ProgramFeatures {
  key: string;
}

const CACHE_VERSION = 1;
const PROBE_TIMEOUT_MS = 10_000;

export function cacheFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && xdg.startsWith('/')) return join(xdg, 'rootless', 'driver-features.json');
  if (env.HOME && env.HOME.startsWith('/')) return join(env.HOME, '.cache', 'rootless', 'driver-features.json');
  return undefined;
}

function identity(file: string): string {
  const st = statSync(file);
  return [file, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs].join('|');
}

function readCache(path: string): Record<string, CacheEntry> {
  try {
    // Ours only: a file someone else can write could lie about features.
    const st = lstatSync(path);
    if (!st.isFile() || st.uid !== process.geteuid!() || (st.mode & 0o022) !== 0) return {};
    const data = JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown; entries?: unknown };
    if (data.version !== CACHE_VERSION || typeof data.entries !== 'object' || data.entries === null) return {};
    return data.entries as Record<string, CacheEntry>;
  } catch {
    return {};
  }
}

function writeCache(path: string, entries: Record<string, CacheEntry>, log: Logger): void {
  try {
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: CACHE_VERSION, entries }), { mode: 0o600 });
    renameSync(tmp, path);
  } catch (err) {
    log.debug({ path, err: (err as Error).message }, 'cannot cache the driver probe; it will run again next time');
  }
}

/** Runs the program with --version and --help (only on a cache miss). */
export function parseProbe(versionOut: string, helpOut: string): ProgramFeatures {
  const version = versionOut.split('\n').map((l) => l.trim()).find((l) => l !== '' && !/syslog/.test(l)) ?? 'unknown version';
  const options = [...new Set(helpOut.match(/--[a-z0-9][a-z0-9-]*/g) ?? [])].sort();
  return { version, options };
}

async function runProbe(file: string): Promise<ProgramFeatures> {
  const { spawnSync } = await import('node:child_process');
  const run = (arg: string): string => {
    const r = spawnSync(file, [arg], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    return `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  };
  return parseProbe(run('--version'), run('--help'));
}

export async function programFeatures(file: string, log: Logger, cachePath = cacheFile()): Promise<ProgramFeatures> {
  const key = identity(file);
  const entries = cachePath ? readCache(cachePath) : {};
  const hit = entries[file];
  if (hit && hit.key === key && typeof hit.version === 'string' && Array.isArray(hit.options)) return hit;
  const features = await runProbe(file);
  log.debug({ file, version: features.version }, 'probed the network driver');
  if (cachePath) writeCache(cachePath, { ...entries, [file]: { key, ...features } }, log);
  return features;
}

/** Whether a /proc/PID/status text shows a kernel with seccomp (slirp4netns --enable-seccomp needs it). */
export function statusHasSeccomp(status: string): boolean {
  return /^Seccomp:/m.test(status);
}

export function kernelHasSeccomp(): boolean {
  try {
    return statusHasSeccomp(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    return false;
  }
}
