// execvp-style lookup of the target, done before spawning so that "not
// found" (127) and "not executable" (126) are told apart as a shell would.
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ExitCode, RootlessError } from './errors.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function executableFile(file: string): 'ok' | 'missing' | 'denied' {
  try {
    if (!statSync(file).isFile()) return 'denied';
    accessSync(file, constants.X_OK);
    return 'ok';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'denied';
  }
}

export function envValue(env: readonly string[], name: string): string | undefined {
  const prefix = `${name}=`;
  for (let i = env.length - 1; i >= 0; i--) if (env[i]!.startsWith(prefix)) return env[i]!.slice(prefix.length);
  return undefined;
}

/** Absolute path of the program to execute, or a RootlessError with exit code 126/127. */
export function resolveCommand(name: string, pathEnv: string | undefined, cwd: string): string {
  if (name === '') {
    throw new RootlessError('cannot run the target: empty command name', {
      step: 'resolve command', code: 'ENOENT', exitCode: ExitCode.NotFound,
    });
  }
  if (name.includes('/')) {
    const file = resolve(cwd, name);
    const state = executableFile(file);
    if (state === 'ok') return file;
    throw notRunnable(name, state === 'missing' ? 'ENOENT' : 'EACCES');
  }
  let denied = false;
  for (const dir of (pathEnv ?? DEFAULT_PATH).split(':')) {
    const file = resolve(cwd, dir === '' ? '.' : dir, name);
    const state = executableFile(file);
    if (state === 'ok') return file;
    if (state === 'denied') denied = true;
  }
  throw notRunnable(name, denied ? 'EACCES' : 'ENOENT');
}

export function notRunnable(name: string, code: string): RootlessError {
  const notFound = code === 'ENOENT';
  const what = notFound ? 'command not found' : code === 'ENOEXEC' ? 'exec format error' : 'permission denied';
  return new RootlessError(`cannot run ${JSON.stringify(name)}: ${what}`, {
    step: 'execute target',
    code,
    subject: name,
    exitCode: notFound ? ExitCode.NotFound : ExitCode.NotExecutable,
  });
}
