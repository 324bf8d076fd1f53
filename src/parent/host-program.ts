// A host program the launcher runs and waits for (newuidmap, newgidmap,
// getsubids): its output, or how it failed, in the words its errors use.
// newuidmap and newgidmap run on every start: through the addon's spawn,
// which clones with CLONE_VM|CLONE_VFORK (no copy of node's page tables, as
// node:child_process's fork makes), and node:child_process (~0.5 MiB, a few
// ms to load) stays unloaded.
import { closeSync, openSync, read } from 'node:fs';
import { SyscallError } from '../sys/errors.js';
import { close, pipe2, spawn, type ExitStatus } from '../sys/native.js';
import { pidfdSignaller } from '../sys/process.js';
import { signalName, signalNumber } from '../sys/signals.js';
import { DEFAULT_PATH } from '../sys/command.js';

export type HostProgramResult =
  | { kind: 'ok'; stdout: string }
  /** It could not be started: `code` is the errno name (ENOENT, EACCES, ...). */
  | { kind: 'not started'; code: string; cause: unknown }
  /**
   * It ran and failed. `how`: "exit status N", "killed by SIG..." or "timed
   * out after N ms"; `detail`: its stderr on one line ('' if it said nothing).
   */
  | { kind: 'failed'; how: string; timedOut: boolean; detail: string; cause: Error };

/** Non-empty lines, trimmed, joined with "; ". */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('; ');
}

/** Everything written on fd until EOF (read in libuv's thread pool), then closes fd. */
function readAll(fd: number): Promise<string> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    const next = (): void => {
      const buf = Buffer.allocUnsafe(16384);
      read(fd, buf, 0, buf.length, null, (err, n) => {
        if (err || n === 0) {
          closeSync(fd);
          resolve(Buffer.concat(chunks).toString('utf8'));
          return;
        }
        chunks.push(buf.subarray(0, n));
        next();
      });
    };
    next();
  });
}

/** This process's environment, as node:child_process would pass it. */
function environment(): string[] {
  return Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
}

/** Runs `file` with `args` (no shell; PATH searched when it has no '/'), killed after `timeoutMs`. Never rejects. */
export async function runHostProgram(file: string, args: readonly string[], timeoutMs: number): Promise<HostProgramResult> {
  const devnull = openSync('/dev/null', 'r');
  const [outR, outW] = pipe2();
  const [errR, errW] = pipe2();
  let onExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((res) => (onExit = res));
  let spawned;
  try {
    spawned = spawn(
      {
        file,
        argv: [file, ...args],
        envp: environment(),
        fds: [devnull, outW, errW],
        ...(file.includes('/') ? {} : { searchPath: process.env.PATH ?? DEFAULT_PATH }),
      },
      (_err, status) => onExit(status),
    );
  } catch (err) {
    close(outR);
    close(errR);
    return { kind: 'not started', code: err instanceof SyscallError && err.code !== undefined ? err.code : 'EIO', cause: err };
  } finally {
    for (const fd of [outW, errW]) close(fd);
    closeSync(devnull);
  }
  const kill = pidfdSignaller(spawned.pidfd, exited);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    kill(signalNumber('SIGKILL'));
  }, timeoutMs);
  const [stdout, stderr, status] = await Promise.all([readAll(outR), readAll(errR), exited]);
  clearTimeout(timer);
  if (status.code === 0 && !timedOut) return { kind: 'ok', stdout };
  const how = timedOut ? `timed out after ${timeoutMs} ms` : status.signal !== null ? `killed by ${signalName(status.signal)}` : `exit status ${String(status.code)}`;
  return { kind: 'failed', how, timedOut, detail: oneLine(stderr), cause: new Error(`${file} ${how}`) };
}
