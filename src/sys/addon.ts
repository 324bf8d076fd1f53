// Finds and loads the C++ addon once, checks it against the contract
// (native.ts), and turns its errors into SyscallError.
//
// Where the .node file is: node-gyp-build looks in build/Release (a build
// from source: a checkout, or an install that compiled it) and then in
// prebuilds/<platform>-<arch>/ (what the npm package carries, made at pack
// time by scripts/prebuild.mjs). The package root is three levels up from
// dist/src/sys/addon.js, and from the bundles dist/src/{cli,child}/*.cjs.
// When neither exists, AddonMissingError says in one line what is missing.
import { accessSync, constants } from 'node:fs';
import { arch, platform } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import loadBinding from 'node-gyp-build';
import { RootlessError, SyscallError } from './errors.js';

interface NativeError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  subject?: string;
  step?: string;
}

/** The addon could not be found or loaded (exit 125, one line). */
export class AddonMissingError extends RootlessError {
  constructor(message: string, root: string, cause: unknown) {
    super(message, { step: 'load addon', code: 'ENOENT', subject: root, cause });
  }
}

/** Root of the installed package (holds package.json, build/, prebuilds/). */
export function packageRoot(): string {
  return fileURLToPath(new URL('../../..', import.meta.url));
}

let loaded: unknown;

/** What `typeof` says of an export. */
export type Kind = 'function' | 'number' | 'object';

/** The addon, once it is shown to export exactly `kinds` (a build of other
 * sources, e.g. a stale build/, fails here in one line, not at first call). */
export function loadAddon<T>(kinds: { readonly [K in keyof T]: Kind }): T {
  const root = packageRoot();
  if (loaded === undefined) {
    try {
      loaded = loadBinding(root);
    } catch (err) {
      throw addonError(root, err);
    }
  }
  const wrong = exportMismatches(loaded, kinds);
  if (wrong.length > 0) {
    const msg = `the native addon does not match this version of rootless (${wrong.join('; ')}): rebuild it with \`npm rebuild rootless\``;
    throw new AddonMissingError(msg, root, undefined);
  }
  return loaded as T;
}

/** How `addon` differs from the declared exports: names missing, extra or
 * of another kind (empty when it matches). */
export function exportMismatches(addon: unknown, kinds: Readonly<Record<string, Kind>>): string[] {
  const actual = new Map<string, string>();
  if (typeof addon === 'object' && addon !== null) {
    for (const [name, value] of Object.entries(addon)) actual.set(name, value === null ? 'null' : typeof value);
  }
  const wrong: string[] = [];
  for (const [name, kind] of Object.entries(kinds)) {
    const got = actual.get(name);
    if (got === undefined) wrong.push(`${name} missing`);
    else if (got !== kind) wrong.push(`${name} is ${got}, declared ${kind}`);
  }
  for (const name of actual.keys()) if (!Object.hasOwn(kinds, name)) wrong.push(`${name} not declared`);
  return wrong;
}

/**
 * Throws AddonMissingError when no addon would be found for this system;
 * does not load it. For the Node API, which starts the launcher as its own
 * process and should fail with a typed error before that.
 */
export function checkAddon(): void {
  if (loaded !== undefined) return;
  const root = packageRoot();
  try {
    loadBinding.resolve(root);
  } catch (err) {
    throw addonError(root, err);
  }
}

/** The build tools a build from source needs, which are not on PATH. */
export function missingBuildTools(path: string | undefined = process.env.PATH): string[] {
  const dirs = (path ?? '').split(delimiter).filter((d) => d.startsWith('/'));
  const found = (names: string[]): boolean =>
    names.some((n) =>
      dirs.some((d) => {
        try {
          accessSync(join(d, n), constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
    );
  const missing: string[] = [];
  if (!found(['cmake'])) missing.push('cmake');
  if (!found(['g++', 'c++', 'clang++'])) missing.push('g++');
  if (!found(['make', 'ninja'])) missing.push('make');
  return missing;
}

function addonError(root: string, err: unknown): AddonMissingError {
  const first = String((err as Error)?.message ?? err).split('\n')[0] ?? '';
  const target = `${platform()}-${arch()}`;
  const what = first.startsWith('No native build was found')
    ? `no native addon for ${target}: no prebuilt one matches this system and none was built at install`
    : `cannot load the native addon: ${first}`;
  const missing = missingBuildTools();
  const fix =
    missing.length > 0
      ? `building it needs ${missing.join(', ')}, not found on PATH: install them (Debian: apt-get install cmake g++ make), then run \`npm rebuild rootless\` (-g for a global install)`
      : 'build it with `npm rebuild rootless` (-g for a global install)';
  return new AddonMissingError(`${what}; ${fix}`, root, err);
}

export function rethrow(err: unknown): never {
  const e = err as NativeError;
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    throw new SyscallError(e.syscall, e.errno ?? 0, e.code, e.subject, e.step);
  }
  throw err;
}

/** Wraps a native function so its errors are SyscallErrors. */
export function wrap<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    try {
      return fn(...args);
    } catch (err) {
      rethrow(err);
    }
  };
}
