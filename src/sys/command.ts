// execvp-style lookup of the target, done before spawning so that "not
// found" (127) and "not executable" (126) are told apart as a shell would.
// Names, PATH and cwd are bytes (they need not be UTF-8): joined, never decoded.
import { accessSync, constants, statSync } from 'node:fs';
import { ExitCode, RootlessError } from './errors.js';
import { shown } from './bytes.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const SLASH = 0x2f;

function executableFile(file: Buffer): 'ok' | 'missing' | 'denied' {
  try {
    if (!statSync(file).isFile()) return 'denied';
    accessSync(file, constants.X_OK);
    return 'ok';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : 'denied';
  }
}

/** `name` under `dir` ("" is "."), itself under `cwd` unless absolute. */
function joinPath(cwd: Buffer, dir: Buffer, name: Buffer): Buffer {
  const parts = dir[0] === SLASH ? [dir] : [cwd, Buffer.from('/'), dir.length === 0 ? Buffer.from('.') : dir];
  return Buffer.concat([...parts, Buffer.from('/'), name]);
}

function splitColons(path: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (let i = path.indexOf(':'); i >= 0; i = path.indexOf(':', from)) {
    out.push(path.subarray(from, i));
    from = i + 1;
  }
  out.push(path.subarray(from));
  return out;
}

/** Path of the program to execute, or a RootlessError with exit code 126/127. */
export function resolveCommand(name: Buffer, pathEnv: Buffer | undefined, cwd: Buffer): Buffer {
  if (name.length === 0) {
    throw new RootlessError('cannot run the target: empty command name', {
      step: 'resolve command', code: 'ENOENT', exitCode: ExitCode.NotFound,
    });
  }
  if (name.includes(SLASH)) {
    const file = name[0] === SLASH ? name : Buffer.concat([cwd, Buffer.from('/'), name]);
    const state = executableFile(file);
    if (state === 'ok') return file;
    throw notRunnable(name, state === 'missing' ? 'ENOENT' : 'EACCES');
  }
  let denied = false;
  for (const dir of splitColons(pathEnv ?? Buffer.from(DEFAULT_PATH))) {
    const file = joinPath(cwd, dir, name);
    const state = executableFile(file);
    if (state === 'ok') return file;
    if (state === 'denied') denied = true;
  }
  throw notRunnable(name, denied ? 'EACCES' : 'ENOENT');
}

export function notRunnable(name: string | Buffer, code: string): RootlessError {
  const notFound = code === 'ENOENT';
  const what = notFound ? 'command not found' : code === 'ENOEXEC' ? 'exec format error' : 'permission denied';
  return new RootlessError(`cannot run ${JSON.stringify(shown(name))}: ${what}`, {
    step: 'execute target',
    code,
    subject: shown(name),
    exitCode: notFound ? ExitCode.NotFound : ExitCode.NotExecutable,
  });
}
