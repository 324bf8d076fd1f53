// Entry point of `rootless` (started by bin/rootless). Parses argv, runs the
// subcommand, maps the outcome to an exit code:
//   target's code | 128+N (target killed by N) | 125 (rootless failed)
//   126/127 (target not executable / not found) | 2 (bad usage)
// `run` (and RootlessKit's argv) take the fast path: a table-driven parser
// without commander, which is loaded only for help and other subcommands.
import { keepStdioBlocking, writeStderr, writeStdout } from '../sys/stderr.js';
import { ExitCode, RootlessError, UsageError, errorMessage } from '../sys/errors.js';
import { CliExit, invokedAsRootlesskit, parseRunFlags, programName, versionText, type RunFlagsMode } from './flags.js';
import type { ValidRunOptions } from './options.js';
import { createLogger, textLine } from './log.js';
import { planLaunch } from './plan.js';
import { mark } from '../sys/trace.js';
import { SIGIGN_ENV, inheritIgnoredSignals, parseSigIgn } from '../sys/signals.js';
import { helpAsFlag } from './help.js';
import { callerArgv, takeWrapperEnvironment } from '../sys/caller.js';

const INVOKED_AS_ENV = '_ROOTLESS_INVOKED_AS';

async function run(options: ValidRunOptions): Promise<number> {
  const log = createLogger(options.logLevel, { format: options.logFormat });
  try {
    const { launch } = await import('../parent/launcher.js');
    const result = await launch(planLaunch(options, callerArgv(options.command)), log);
    return result.exitCode;
  } catch (err) {
    const exitCode = err instanceof RootlessError ? err.exitCode : ExitCode.LauncherFailed;
    if (options.logFormat === 'json') {
      // The failure as a record of its own, with the fields a program wants.
      const fields = err instanceof RootlessError ? { step: err.step, code: err.code, subject: err.subject, hint: err.hint } : {};
      log.error(fields, err instanceof Error ? err.message : String(err));
    } else {
      writeStderr(textLine('error', errorMessage(err)));
    }
    const details = err instanceof RootlessError ? { step: err.step, code: err.code, subject: err.subject } : {};
    log.debug({ ...details, stack: (err as Error)?.stack }, 'error details');
    return exitCode;
  }
}

async function runFlags(argv: string[], mode: RunFlagsMode): Promise<number> {
  const parsed = parseRunFlags(argv, mode);
  if ('help' in parsed) {
    const { writeRunHelp } = await import('./program.js');
    writeRunHelp(mode);
    return 0;
  }
  if ('version' in parsed) {
    writeStdout(versionText(programName(mode)));
    return 0;
  }
  mark('parent', 'parsed');
  return run(parsed);
}

async function other(argv: string[]): Promise<number> {
  const { parseArgv } = await import('./program.js');
  const parsed = parseArgv(argv);
  if (parsed.kind === 'run') return run(parsed.options);
  if (parsed.kind === 'exec' || parsed.kind === 'ps') return sessionCommand(parsed.kind, parsed.argv);
  if (parsed.kind === 'info' || parsed.kind === 'ports' || parsed.kind === 'ctl') {
    const { apiCommand } = await import('./api-commands.js');
    return apiCommand(parsed.kind, parsed.argv);
  }
  if (parsed.kind === 'completion') return (await import('./completion.js')).completionMain(parsed.argv);
  if (parsed.kind === 'doctor') return (await import('../doctor/index.js')).doctorCommand(parsed.argv);
  writeStderr(`rootless ${parsed.kind}: not implemented yet\n`);
  return ExitCode.Usage;
}

/** `exec` and `ps` (src/cli/exec.ts, ps.ts): errors as `run`'s, one line. */
async function sessionCommand(kind: 'exec' | 'ps', argv: string[]): Promise<number> {
  try {
    if (kind === 'exec') return await (await import('./exec.js')).execCommand(argv);
    return await (await import('./ps.js')).psCommand(argv);
  } catch (err) {
    if (err instanceof UsageError || !(err instanceof RootlessError)) throw err;
    writeStderr(`rootless ${kind}: ${errorMessage(err)}\n`);
    return err.exitCode;
  }
}

async function main(): Promise<number> {
  mark('parent', 'main');
  takeWrapperEnvironment();
  keepStdioBlocking();
  inheritIgnoredSignals(parseSigIgn(process.env[SIGIGN_ENV] ?? ''));
  delete process.env[SIGIGN_ENV];
  const invokedAs = process.env[INVOKED_AS_ENV] ?? '';
  delete process.env[INVOKED_AS_ENV];
  let argv = process.argv.slice(2);
  try {
    if (invokedAsRootlesskit(invokedAs)) return await runFlags(argv, 'rootlesskit');
    argv = await helpAsFlag(argv);
    if (argv[0] === 'run') return await runFlags(argv.slice(1), 'run');
    return await other(argv);
  } catch (err) {
    if (err instanceof CliExit) return err.exitCode;
    if (err instanceof UsageError) {
      writeStderr(`${err.message}\n`);
      return err.exitCode;
    }
    // e.g. AddonMissingError from a subcommand that loads the addon.
    if (err instanceof RootlessError) {
      writeStderr(textLine('error', errorMessage(err)));
      return err.exitCode;
    }
    throw err;
  }
}

main().then(
  (code) => {
    mark('parent', 'exit');
    process.exit(code);
  },
  (err: unknown) => {
    writeStderr(`rootless: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(ExitCode.LauncherFailed);
  },
);
