// A session named on the command line (`rootless exec|info|ports NAME`):
// its state directory, as `rootless run --name NAME` made it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RootlessError, UsageError } from '../sys/errors.js';
import { parseSessionName } from './options.js';

/** NAME -> its state directory; UsageError when NAME is not a valid name, RootlessError (exit 125, as `rootless exec`) when no such session runs. */
export async function namedSessionDir(command: string, name: string): Promise<string> {
  try {
    parseSessionName(name);
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message.replace(/^--name: /, 'session ')}`, { subject: name });
  }
  const { sessionsBase } = await import('../parent/sessions.js');
  const dir = join(sessionsBase(), name);
  if (!existsSync(dir)) {
    throw new RootlessError(`no session named ${JSON.stringify(name)} (see rootless ps)`, { step: 'find session', code: 'ESRCH', subject: name });
  }
  return dir;
}
