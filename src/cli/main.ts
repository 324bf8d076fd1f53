// Entry point of `rootless` (started by bin/rootless). Parses argv, runs the
// subcommand, maps the outcome to an exit code:
//   target's code | 128+N (target killed by N) | 125 (rootless failed)
//   126/127 (target not executable / not found) | 2 (bad usage)
import { ExitCode, RootlessError, UsageError, errorMessage } from '../sys/errors.js';
import { CliExit, invokedAsRootlesskit, parseArgv, parseRootlesskitArgv, type ParsedCommand } from './program.js';
import type { RunOptions } from './options.js';
import { createLogger } from './log.js';
import { SAVED_CA_ENV } from '../parent/environment.js';

const INVOKED_AS_ENV = '_ROOTLESS_INVOKED_AS';

function parse(argv: string[]): ParsedCommand {
  const invokedAs = process.env[INVOKED_AS_ENV] ?? '';
  delete process.env[INVOKED_AS_ENV];
  if (invokedAsRootlesskit(invokedAs)) return { kind: 'run', options: parseRootlesskitArgv(argv) };
  return parseArgv(argv);
}

async function run(options: RunOptions): Promise<number> {
  const log = createLogger(options.logLevel);
  const { launch } = await import('../parent/launcher.js');
  try {
    const result = await launch(options, log);
    return result.exitCode;
  } catch (err) {
    const exitCode = err instanceof RootlessError ? err.exitCode : ExitCode.LauncherFailed;
    process.stderr.write(`rootless: ${errorMessage(err)}\n`);
    if (err instanceof RootlessError) {
      log.debug({ step: err.step, code: err.code, subject: err.subject, stack: err.stack }, 'error details');
    } else {
      log.debug({ stack: (err as Error)?.stack }, 'unexpected error');
    }
    return exitCode;
  }
}

async function main(): Promise<number> {
  let parsed: ParsedCommand;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (err) {
    if (err instanceof CliExit) return err.exitCode;
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
  if (parsed.kind === 'run') return run(parsed.options);
  process.stderr.write(`rootless ${parsed.kind}: not implemented yet\n`);
  return ExitCode.Usage;
}

// Our own node process never needs the CA bundle; the target gets it back
// through targetEnvironment().
void SAVED_CA_ENV;

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`rootless: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(ExitCode.LauncherFailed);
  },
);
