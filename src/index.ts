// The Node API, for test suites and tools: run a command under rootless
// from JavaScript.
//
//   import { run } from 'rootless';
//   const r = await run(['sh', '-c', 'chown 1000 f && stat -c %u f'], { cwd: dir });
//   // r.code === 0, r.stdout === '1000\n'
//
// The launcher runs as its own process (bin/rootless): it must own its
// signals, its exit status and its children's lifetimes (PDEATHSIG), which
// it could not inside the caller's process. Options are the CLI's flags,
// by their RunOptions names, turned into argv from the same flag table.
import { spawn as spawnProcess, type ChildProcess, type StdioOptions } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { RUN_FLAGS, parseRunFlags } from './cli/flags.js';
import { checkAddon } from './sys/addon.js';
import { defaultRunOptions, type RunOptions } from './cli/options.js';
import type { Session } from './session/client.js';
import { launcherFailure } from './session/failure.js';

const DEFAULTS = defaultRunOptions(['true']);

export type { RunOptions } from './cli/options.js';
import { exitCodeOf } from './sys/errors.js';

export { RootlessError, UsageError, SyscallError, ExitCode } from './sys/errors.js';
export { AddonMissingError } from './sys/addon.js';
export type { Session, SessionRunOptions, SessionResult } from './session/client.js';
export type { SessionProcess, SessionSpawnOptions, SessionStdio } from './session/process.js';

/** The CLI flags, by RunOptions name; all optional (defaults as the CLI's). */
export type LaunchOptions = Partial<Omit<RunOptions, 'command'>>;

export interface ProcessOptions {
  cwd?: string;
  /** Environment of the launcher and (with ROOTLESSKIT_* added) the target; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Passed to child_process.spawn; default 'pipe'. */
  stdio?: StdioOptions;
  /** Written to the target's stdin (stdio 'pipe' only), which is then closed. */
  input?: string | Buffer;
  /** Run the launcher as this user (when the caller is root, e.g. a CI job). */
  uid?: number;
  gid?: number;
}

export interface RunResult {
  /** The target's exit code, 128+N if it was killed by signal N (rootless's own failure rejects). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Absolute path of the `rootless` executable of this package. */
export function rootlessBin(): string {
  // dist/src/index.js -> bin/rootless
  return fileURLToPath(new URL('../../bin/rootless', import.meta.url));
}

/** `rootless run` argv for these options and command (no program name). */
export function runArgv(command: readonly string[], options: LaunchOptions = {}): string[] {
  if (command.length === 0) throw new TypeError('rootless: the command must not be empty');
  const argv = ['run'];
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (key === 'logLevel') {
      argv.push(`--log-level=${String(value)}`);
      continue;
    }
    const flag = RUN_FLAGS.find((f) => f.key === key);
    if (!flag) throw new TypeError(`rootless: unknown option ${JSON.stringify(key)}`);
    if (flag.kind === 'bool') {
      if (value === true) argv.push(`--${flag.long}`);
      else if (value !== false) throw new TypeError(`rootless: option ${key} must be a boolean`);
      // Off where the default is on (--source-ip-transparent) must be said.
      else if (DEFAULTS[flag.key as keyof RunOptions] === true) argv.push(`--${flag.long}=false`);
    } else if (flag.kind === 'list') {
      if (!Array.isArray(value)) throw new TypeError(`rootless: option ${key} must be an array`);
      for (const item of value) argv.push(`--${flag.long}=${String(item)}`);
    } else {
      argv.push(`--${flag.long}=${String(value)}`);
    }
  }
  argv.push('--', ...command);
  return argv;
}

/** runArgv, with the values checked here by the CLI's own parser: a UsageError now, not an exit code later. */
function checkedArgv(command: readonly string[], options: LaunchOptions): string[] {
  const argv = runArgv(command, options);
  parseRunFlags(argv.slice(1), 'run');
  return argv;
}

/**
 * Starts the launcher; the returned process is rootless's parent (signals
 * you send it reach the target). Throws AddonMissingError when the native
 * addon is neither prebuilt for this system nor built (the message says
 * what to install), TypeError for unknown options, UsageError for bad values.
 */
export function spawn(command: readonly string[], options: LaunchOptions = {}, proc: ProcessOptions = {}): ChildProcess {
  const argv = checkedArgv(command, options);
  checkAddon();
  const child = spawnProcess(rootlessBin(), argv, {
    cwd: proc.cwd,
    env: proc.env ?? process.env,
    stdio: proc.stdio ?? 'pipe',
    ...(proc.uid === undefined ? {} : { uid: proc.uid }),
    ...(proc.gid === undefined ? {} : { gid: proc.gid }),
  });
  if (child.stdin) {
    if (proc.input !== undefined) child.stdin.end(proc.input);
    else if (proc.stdio === undefined || proc.stdio === 'pipe') child.stdin.end();
  }
  return child;
}

/**
 * Runs a command under rootless and collects its output. Never rejects for
 * the target's exit code; rejects with RootlessError (UsageError for a bad
 * option value) when rootless itself fails, and with spawn's errors
 * (AddonMissingError, TypeError). Unless options.logFormat says otherwise,
 * the launcher logs JSON records to stderr (so that its failure can be read
 * as a typed error).
 */
export function run(command: readonly string[], options: LaunchOptions = {}, proc: ProcessOptions = {}): Promise<RunResult> {
  let child: ChildProcess;
  try {
    child = spawn(command, { logFormat: 'json', ...options }, { ...proc, stdio: 'pipe' });
  } catch (err) {
    return Promise.reject(err);
  }
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const failure = options.logFormat === undefined || options.logFormat === 'json' ? launcherFailure(code, stderr) : undefined;
      if (failure) return reject(failure);
      resolve({ code: exitCodeOf({ code, signal: signal === null ? null : signalNumberOf(signal) }), stdout, stderr });
    });
  });
}

/** Where and as whom the session's launcher runs (stdio is the session's own). */
export type SessionProcessOptions = Omit<ProcessOptions, 'stdio' | 'input'>;

/**
 * Opens a session: one launcher whose namespaces stay open, and in which
 * each session.run() starts a command as uid 0 without starting rootless
 * again (docs/node-api.md). Rejects with RootlessError when rootless fails
 * (no sub-ids, namespaces refused; UsageError for a bad option value),
 * TypeError for an unknown option. The session ends with close() or with the caller.
 */
export async function openSession(options: LaunchOptions = {}, proc: SessionProcessOptions = {}): Promise<Session> {
  checkedArgv(['true'], options); // TypeError/UsageError now for bad options
  checkAddon();
  // Imported here: the session client uses the addon, and importing
  // 'rootless' must not load it (run() reports a missing addon as a typed error).
  const { startSession } = await import('./session/client.js');
  return startSession({
    bin: rootlessBin(),
    argv: (command) => runArgv(command, { ...options, logFormat: 'json' }),
    ...(proc.cwd === undefined ? {} : { cwd: proc.cwd }),
    env: proc.env ?? process.env,
    ...(proc.uid === undefined ? {} : { uid: proc.uid }),
    ...(proc.gid === undefined ? {} : { gid: proc.gid }),
  });
}

function signalNumberOf(name: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[name] ?? 0;
}
