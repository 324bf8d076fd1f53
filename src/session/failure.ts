// rootless's own failure, read from what the launcher wrote to stderr, as
// a typed error: for openSession() and the one-shot run(), which start the
// launcher with --log-format=json (and check option values before, so a
// usage error never gets this far). A failure of rootless is told from a
// target's exit code 125 by the launcher's error record (pino's fields, level error).
import { RootlessError } from '../sys/errors.js';

interface ErrorRecord { level?: number; time?: number; pid?: number; msg?: string; step?: string; code?: string; subject?: string; hint?: string }

/** The launcher's failure, or undefined when its stderr shows none (the target's own exit code). */
export function launcherFailure(exitCode: number | null, stderr: string): RootlessError | undefined {
  const lines = stderr.split('\n').filter((l) => l !== '');
  if (exitCode !== 125) return undefined;
  for (const line of [...lines].reverse()) {
    if (!line.startsWith('{')) continue;
    let r: ErrorRecord;
    try {
      r = JSON.parse(line) as ErrorRecord;
    } catch {
      continue;
    }
    if ((r.level ?? 0) >= 50 && typeof r.msg === 'string' && typeof r.time === 'number' && typeof r.pid === 'number') {
      return new RootlessError(r.msg, {
        step: r.step ?? 'launch',
        ...(r.code ? { code: r.code } : {}),
        ...(r.subject ? { subject: r.subject } : {}),
        ...(r.hint ? { hint: r.hint } : {}),
      });
    }
  }
  return undefined;
}
