// A host program the launcher runs and waits for (newuidmap, newgidmap,
// getsubids): its output, or how it failed, in the words its errors use.
import { execFile, type ExecFileException } from 'node:child_process';

export type HostProgramResult =
  | { kind: 'ok'; stdout: string }
  /** It could not be started: `code` is the errno name (ENOENT, EACCES, ...). */
  | { kind: 'not started'; code: string; cause: ExecFileException }
  /**
   * It ran and failed. `how`: "exit status N", "killed by SIG..." or "timed
   * out after N ms"; `detail`: its stderr on one line ('' if it said nothing).
   */
  | { kind: 'failed'; how: string; timedOut: boolean; detail: string; cause: ExecFileException };

/** Non-empty lines, trimmed, joined with "; ". */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('; ');
}

/** Runs `file` with `args` (no shell), killed after `timeoutMs`. Never rejects. */
export function runHostProgram(file: string, args: readonly string[], timeoutMs: number): Promise<HostProgramResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8', windowsHide: true }, (err, stdout, stderr) => {
      if (err === null) {
        resolve({ kind: 'ok', stdout });
        return;
      }
      if (typeof err.code === 'string') {
        resolve({ kind: 'not started', code: err.code, cause: err });
        return;
      }
      const timedOut = err.killed === true && err.signal !== undefined && err.signal !== null;
      const how = timedOut ? `timed out after ${timeoutMs} ms` : err.signal ? `killed by ${err.signal}` : `exit status ${String(err.code)}`;
      resolve({ kind: 'failed', how, timedOut, detail: oneLine(stderr), cause: err });
    });
  });
}
