// Finding the driver's program (slirp4netns, pasta) before anything starts,
// so that a missing one is one line naming it and the package to install,
// not a failure halfway through the session.
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { RootlessError } from '../sys/errors.js';
import type { DriverHost, DriverProgramInfo, NetworkCheck } from './driver.js';
import type { ProgramFeatures } from './probe.js';
import type { NetworkSettings } from './types.js';

export interface DriverProgram {
  /** As the user named it (flag value or default). */
  name: string;
  /** The --net value that runs it, for messages. */
  driver: string;
  /** Debian package that provides it. */
  debianPackage: string;
}

function notUsable(p: DriverProgram, what: string, code: string, subject: string): RootlessError {
  return new RootlessError(`${what}; --net=${p.driver} needs it (Debian package: ${p.debianPackage})`, {
    step: 'network driver', code, subject,
  });
}

function executableFile(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return 'EISDIR';
    accessSync(path, constants.X_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'EACCES';
  }
}

/** Absolute path of the driver's program, or a RootlessError (exit 125). */
export function resolveProgram(
  p: DriverProgram, path: string | undefined = process.env.PATH, cwd = process.cwd(), executable: (path: string) => string | undefined = executableFile,
): string {
  if (p.name.includes('/')) {
    const abs = resolve(cwd, p.name);
    const err = executable(abs);
    if (err === 'ENOENT' || err === 'ENOTDIR') throw notUsable(p, `${p.name}: no such file`, err, abs);
    if (err !== undefined) throw notUsable(p, `${p.name}: not an executable file (${err})`, err, abs);
    return abs;
  }
  let firstError: [string, string] | undefined;
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = resolve(cwd, dir, p.name);
    const err = executable(candidate);
    if (err === undefined) return candidate;
    if (err !== 'ENOENT' && err !== 'ENOTDIR' && !firstError) firstError = [candidate, err];
  }
  if (firstError) throw notUsable(p, `${firstError[0]}: not an executable file (${firstError[1]})`, firstError[1], firstError[0]);
  throw notUsable(p, `${p.name}: not found in PATH`, 'ENOENT', p.name);
}

/** This machine as the launcher sees it before a run: access(2), no probing. */
export function runningHost(env: NodeJS.ProcessEnv = process.env): DriverHost {
  return {
    env,
    cwd: process.cwd(),
    read(path) {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
    },
    executable: executableFile,
  };
}

/**
 * The check of a driver that runs a program: found (as the settings name
 * it), and, on a host that probes, answering --version/--help; `describe`
 * says what this copy supports.
 */
export async function checkProgram(
  host: DriverHost, driver: string, program: DriverProgramInfo, settings: NetworkSettings | undefined,
  describe: (f: ProgramFeatures) => string[],
): Promise<NetworkCheck> {
  let file: string;
  try {
    file = resolveProgram({ name: settings?.[program.setting] ?? program.name, driver, debianPackage: program.debianPackage }, host.env.PATH, host.cwd, (p) => host.executable(p));
  } catch (err) {
    if (err instanceof RootlessError) return { problem: err };
    throw err;
  }
  if (host.features === undefined) return { program: file };
  const f = await host.features(file);
  if (f === undefined) {
    return { program: file, problem: new RootlessError(`${file} did not answer --version/--help`, { step: 'network driver', subject: file }) };
  }
  return { program: file, version: f.version, features: describe(f) };
}
