// The CLI's entry paths, composed for the unit tests from what the program
// itself uses (src/cli/main.ts): parseRunFlags for `rootless run ARGV` and
// `rootlesskit ARGV`, writeRunHelp for help, versionText for --version.
// Help and version are written to `output` and end in CliExit(0), as the
// entry point ends with exit code 0.
import { CliExit, parseRunFlags, programName, versionText, type RunFlag, type RunFlagsMode } from '../../src/cli/flags.js';
import type { RunOptions } from '../../src/cli/options.js';
import { writeRunHelp, type CliOutput } from '../../src/cli/program.js';

function parseAs(mode: RunFlagsMode, argv: readonly string[], output: CliOutput): RunOptions {
  const r = parseRunFlags(argv, mode);
  if ('help' in r) {
    writeRunHelp(mode, output);
    throw new CliExit(0);
  }
  if ('version' in r) {
    output.writeOut(versionText(programName(mode)));
    throw new CliExit(0);
  }
  return r;
}

/** What `rootless run ARGV` parses to. */
export const parseRunArgv = (argv: readonly string[], output: CliOutput): RunOptions => parseAs('run', argv, output);

/** What `rootlesskit ARGV` (our binary under RootlessKit's name) parses to. */
export const parseRootlesskitArgv = (argv: readonly string[], output: CliOutput): RunOptions => parseAs('rootlesskit', argv, output);

/** The help `--help` prints in that mode. */
export function runHelpText(mode: RunFlagsMode): string {
  let out = '';
  writeRunHelp(mode, { writeOut: (s) => void (out += s), writeErr: () => {} });
  return out;
}

/** How help shows a table flag, e.g. "-p, --publish <spec>". */
export function runFlagSyntax(f: RunFlag): string {
  const short = f.short === undefined ? '' : `-${f.short}, `;
  return `${short}--${f.long}${f.kind === 'bool' ? '' : ` <${f.arg ?? 'value'}>`}`;
}
