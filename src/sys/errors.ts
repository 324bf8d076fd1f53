// Typed errors. Every failure names the step that failed and, where the
// kernel said no, the errno name and the object (path, pid) it was about.
// The CLI prints `message` as one line; the log gets the structured fields.

/** Exit codes, following the shell's conventions (see DESIGN.md). */
export const ExitCode = {
  /** rootless itself failed before the target ran. */
  LauncherFailed: 125,
  /** The target exists but could not be executed. */
  NotExecutable: 126,
  /** The target was not found. */
  NotFound: 127,
  /** Bad command-line usage. */
  Usage: 2,
} as const;

/**
 * A process's status as an exit code, the shell's way: its code, or 128+N
 * when signal N killed it; neither (no status) is rootless's own failure.
 * The one place this is computed (addon/spawn.cc's forked child, which
 * cannot call JS, does the same for a failed exec).
 */
export function exitCodeOf(status: { code: number | null; signal: number | null }): number {
  return status.signal !== null ? 128 + status.signal : (status.code ?? ExitCode.LauncherFailed);
}

export interface RootlessErrorFields {
  /** What rootless was doing, e.g. "newuidmap", "clone", "mount /proc". */
  step: string;
  /** errno name, e.g. "EPERM", when the kernel or a syscall refused. */
  code?: string;
  /** The path, pid or value the step was about. */
  subject?: string;
  /** A hint for the user: what to change. Printed after the message. */
  hint?: string;
  /** Exit code the CLI should use (default 125). */
  exitCode?: number;
  cause?: unknown;
}

export class RootlessError extends Error {
  readonly step: string;
  readonly code: string | undefined;
  readonly subject: string | undefined;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, fields: RootlessErrorFields) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.step = fields.step;
    this.code = fields.code;
    this.subject = fields.subject;
    this.hint = fields.hint;
    this.exitCode = fields.exitCode ?? ExitCode.LauncherFailed;
  }

  /** One line for the terminal: message, then the hint if there is one. */
  oneLine(): string {
    return this.hint ? `${this.message}; ${this.hint}` : this.message;
  }
}

/** Bad flags or flag values: exit 2, nothing started. */
export class UsageError extends RootlessError {
  constructor(message: string, fields: Partial<RootlessErrorFields> = {}) {
    super(message, { step: 'parse flags', exitCode: ExitCode.Usage, ...fields });
  }
}

/** A system call made through the addon failed. */
export class SyscallError extends RootlessError {
  readonly syscall: string;
  readonly errno: number;
  constructor(syscall: string, errno: number, code: string, subject?: string, step?: string) {
    const about = subject === undefined ? '' : ` ${subject}`;
    super(`${step ?? syscall}${about}: ${code}`, {
      step: step ?? syscall,
      code,
      ...(subject === undefined ? {} : { subject }),
    });
    this.syscall = syscall;
    this.errno = errno;
  }
}

/** The peer process broke the parent<->child protocol or went away. */
export class ProtocolError extends RootlessError {
  constructor(message: string, fields: Partial<RootlessErrorFields> = {}) {
    super(message, { step: 'protocol', ...fields });
  }
}

/** A wait ran past its deadline. */
export class TimeoutError extends RootlessError {
  constructor(what: string, ms: number, fields: Partial<RootlessErrorFields> = {}) {
    super(`timed out after ${ms} ms waiting for ${what}`, { step: what, code: 'ETIMEDOUT', ...fields });
  }
}

/** Narrow an unknown thrown value to something with a message. */
export function errorMessage(err: unknown): string {
  if (err instanceof RootlessError) return err.oneLine();
  if (err instanceof Error) return err.message;
  return String(err);
}

/** What an error message shows of a value: its first 80 characters. */
export const QUOTE_MAX = 80;

/**
 * JSON-quote a value for an error message, so spaces and empties show; a
 * longer one is cut, with an ellipsis and its length (a 100 KB flag value
 * must not flood the terminal).
 */
export function quoteValue(value: string): string {
  if (value.length <= QUOTE_MAX) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, QUOTE_MAX))}… (${value.length} characters)`;
}
