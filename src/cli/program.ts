// The command-line surface: `rootless run [flags] -- CMD [ARGS...]`, the
// placeholder subcommands, and `rootlesskit [flags] CMD [ARGS...]` for when
// our binary is invoked under RootlessKit's name.
//
// The run flags live in flags.ts: one table (RUN_FLAGS) and a hand-written
// parser (parseRunFlags) that does not load commander, so the hot path
// `rootless run ...` can skip this module. Here commander provides the top
// level program, the other subcommands, --version, and the grouped help,
// whose `run` Options are built from the same table. The `run` command's
// argv goes to parseRunFlags, not to commander's option parser.
//
// Errors are UsageError (exit 2) with one line: `rootless run: unknown flag
// --foo`, `rootless run: --net: invalid value "x" (choose ...)`. Help and
// --version write their text and throw CliExit(0); the entry point sets the
// exit code from it. No launcher logic here: handlers are injected.

import { Command, CommanderError, Option } from 'commander';
import type { ParseOptionsResult } from 'commander';
import { ExitCode, UsageError } from '../sys/errors.js';
import { quote } from './options.js';
import { didYouMean } from './suggest.js';
import type { ValidRunOptions } from './options.js';
import {
  CliExit,
  ROOTLESSKIT_USAGE,
  RUN_FLAGS,
  RUN_USAGE,
  parseRunFlags,
  programName,
  versionText,
} from './flags.js';
import type { RunFlag, RunFlagsMode } from './flags.js';

// ---------------------------------------------------------------------------
// Public types

/** Where help and version text go (stdout / stderr by default). */
export interface CliOutput {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** Subcommands whose argv is handed, unparsed, to their handler. */
export const PASS_THROUGH_COMMANDS = ['exec', 'ps', 'info', 'ports', 'ctl', 'doctor', 'completion'] as const;
export type PassThroughCommandName = (typeof PASS_THROUGH_COMMANDS)[number];

export type ParsedCommand =
  | { kind: 'run'; options: ValidRunOptions }
  | { kind: PassThroughCommandName; argv: string[] };

type HandlerResult = void | Promise<void>;

export interface ProgramHandlers {
  run(options: ValidRunOptions): HandlerResult;
  exec(argv: string[]): HandlerResult;
  ps(argv: string[]): HandlerResult;
  info(argv: string[]): HandlerResult;
  ports(argv: string[]): HandlerResult;
  ctl(argv: string[]): HandlerResult;
  doctor(argv: string[]): HandlerResult;
  completion(argv: string[]): HandlerResult;
}

const NO_HANDLERS: ProgramHandlers = {
  run: () => {},
  exec: () => {},
  ps: () => {},
  info: () => {},
  ports: () => {},
  ctl: () => {},
  doctor: () => {},
  completion: () => {},
};

export interface ProgramSettings {
  output?: CliOutput;
}

const processOutput: CliOutput = {
  writeOut: (text) => void process.stdout.write(text),
  writeErr: (text) => void process.stderr.write(text),
};

// ---------------------------------------------------------------------------
// Error plumbing

/** The long flag out of commander's flags text, e.g. "-p, --publish <spec>" -> "--publish". */
function longFlag(flags: string): string {
  const m = /--[A-Za-z0-9-]+/.exec(flags) ?? /-[A-Za-z0-9]/.exec(flags);
  return m === null ? flags : m[0];
}

/** Turn commander's own errors into one-line UsageErrors (or CliExit); `cmd` offers the suggestions. */
function convertCommanderError(err: CommanderError, prefix: string, rootName: string, cmd?: Command): Error {
  const msg = err.message.replace(/^error: /, '');
  let m: RegExpExecArray | null;
  switch (err.code) {
    case 'commander.helpDisplayed':
    case 'commander.version':
      return new CliExit(0);
    case 'commander.help':
      return new CliExit(err.exitCode === 0 ? 0 : ExitCode.Usage);
    case 'commander.unknownOption':
      m = /unknown option '([^']*)'/.exec(msg);
      {
        const flag = m?.[1] ?? msg;
        const longs = (cmd?.options ?? []).map((o) => o.long).filter((l): l is string => l !== undefined);
        const hint = flag.startsWith('--') ? didYouMean(flag.slice(2), longs.map((l) => l.slice(2)), '--') : '';
        return new UsageError(`${prefix}: unknown flag ${flag}${hint}`, { subject: flag });
      }
    case 'commander.unknownCommand':
      m = /unknown command '([^']*)'/.exec(msg);
      {
        const word = m?.[1] ?? msg;
        const hint = didYouMean(word, [...(cmd?.commands ?? []).map((c) => c.name()), 'help']);
        return new UsageError(`${prefix}: unknown command ${quote(word)}${hint || ` (see ${rootName} --help)`}`, { subject: word });
      }
    case 'commander.optionMissingArgument':
      m = /option '([^']*)' argument missing/.exec(msg);
      return new UsageError(`${prefix}: ${longFlag(m?.[1] ?? msg)}: missing value`);
    case 'commander.invalidArgument':
      m = /^option '([^']*)' argument '([\s\S]*)' is invalid\. ([\s\S]*)$/.exec(msg);
      if (m !== null) {
        return new UsageError(`${prefix}: ${longFlag(m[1] as string)}: invalid value ${quote(m[2] as string)}: ${oneLine(m[3] as string)}`, {
          subject: m[2] as string,
        });
      }
      return new UsageError(`${prefix}: ${oneLine(msg)}`);
    default:
      return new UsageError(`${prefix}: ${oneLine(msg)}`);
  }
}

function oneLine(s: string): string {
  return s.trim().replace(/\s*\n\s*/g, '; ');
}

/** Settings every command of ours gets: no process.exit, no commander printing errors. */
function configure(cmd: Command, prefix: string, rootName: string, output: CliOutput): Command {
  return cmd
    .exitOverride((err) => {
      throw convertCommanderError(err, prefix, rootName, cmd);
    })
    .configureOutput({
      writeOut: (s) => output.writeOut(s),
      writeErr: (s) => output.writeErr(s),
      outputError: () => {
        /* converted to UsageError and printed by the entry point */
      },
    })
    .showSuggestionAfterError(false);
}

function addVersionOption(cmd: Command, name: string, output: CliOutput): void {
  cmd.addOption(new Option('-v, --version', 'print the version').helpGroup('Misc:'));
  cmd.on('option:version', () => {
    output.writeOut(versionText(name));
    throw new CliExit(0);
  });
}

// ---------------------------------------------------------------------------
// The run command

/** A command whose argv goes to parseRunFlags (flags.ts) instead of commander's parser. */
class RunCommand extends Command {
  readonly runSpec: RunSpec;
  /** Set by parseOptions. */
  runOptions: ValidRunOptions | undefined;
  constructor(spec: RunSpec) {
    super(spec.name);
    this.runSpec = spec;
  }
  override parseOptions(argv: string[]): ParseOptionsResult {
    this.runOptions = resolveRunFlags(argv, this.runSpec, this);
    return { operands: [], unknown: [] };
  }
}

/** A command that hands its argv, untouched, to its handler. */
class PassThroughCommand extends Command {
  passedArgv: string[] = [];
  override parseOptions(argv: string[]): ParseOptionsResult {
    this.passedArgv = [...argv];
    return { operands: [], unknown: [] };
  }
}

/** Commander's flags text for a table entry, e.g. "-p, --publish <spec>". */
function runFlagSyntax(f: RunFlag): string {
  const short = f.short === undefined ? '' : `-${f.short}, `;
  return `${short}--${f.long}${f.kind === 'bool' ? '' : ` <${f.arg ?? 'value'}>`}`;
}

/** A commander Option for a table entry (help group, default, parser). */
function optionFor(f: RunFlag): Option {
  const opt = new Option(runFlagSyntax(f), f.description).helpGroup(`${f.group}:`);
  const parse = f.parse;
  if (f.kind === 'list') {
    opt.argParser((v: string, previous: unknown[] | undefined) => [...(previous ?? []), parse === undefined ? v : parse(v)]);
  } else if (f.kind === 'value' && parse !== undefined) {
    opt.argParser((v: string) => parse(v));
  }
  if (f.default !== undefined) opt.default(f.default, f.defaultHelp);
  if (f.hidden === true) opt.hideHelp();
  return opt;
}

/** Add the run flags from the table, grouped like RootlessKit's help. */
function addRunFlags(cmd: Command): void {
  for (const f of RUN_FLAGS) cmd.addOption(optionFor(f));
}

const RUN_EXAMPLES = `
Examples:
  rootless run -- id                                   # uid=0(root) inside
  rootless run --pidns --copy-up=/etc -- sh
  rootless run --net=slirp4netns --copy-up=/etc --port-driver=builtin -p 127.0.0.1:8080:80/tcp -- CMD
  rootless run --name web --net=pasta -- CMD           # then: rootless exec web -- sh
More: docs/usage.md, docs/networking.md`;

const ROOTLESSKIT_EXAMPLES = `
Examples:
  rootlesskit --net=slirp4netns --copy-up=/etc --port-driver=builtin dockerd
  rootlesskit --pidns bash
`;

const PROGRAM_EXAMPLES = `
Examples:
  rootless run -- id                    # root in a user namespace
  rootless run --net=slirp4netns --copy-up=/etc --port-driver=builtin -p 8080:80 -- CMD
  rootless doctor                       # is this machine ready?
  rootless help run                     # every flag of run
  rootless completion bash > ~/.local/share/bash-completion/completions/rootless`;

const RUN_DESCRIPTION = 'run a command in new namespaces (RootlessKit flags)';

interface RunSpec {
  /** Command name (shown in help's usage line). */
  name: string;
  /** Prefix of error messages, e.g. "rootless run". */
  prefix: string;
  /** Root program name, for "see X --help". */
  rootName: string;
  /** The usage line, e.g. RUN_USAGE (help shows it after "Usage: "). */
  usage: string;
  output: CliOutput;
  /** How parseRunFlags reads the argv (and the name --version prints). */
  mode: RunFlagsMode;
}

function createRunCommand(spec: RunSpec): RunCommand {
  const cmd = new RunCommand(spec);
  configure(cmd, spec.prefix, spec.rootName, spec.output);
  cmd
    .usage(spec.usage.slice(spec.usage.indexOf(' ') + 1).replace(/^run /, ''))
    .argument('[command...]', 'the command to run in the namespaces, and its arguments')
    .passThroughOptions()
    .configureHelp({ helpWidth: 100 });
  // What `rootless --help` lists for `run`, and what `rootless run --help` shows first.
  if (spec.mode === 'run') cmd.description(RUN_DESCRIPTION);
  addRunFlags(cmd);
  cmd.optionsGroup('Misc:');
  addVersionOption(cmd, programName(spec.mode), spec.output);
  cmd.addHelpOption(new Option('-h, --help', 'show help').helpGroup('Misc:'));
  cmd.addHelpText('after', spec.mode === 'run' ? RUN_EXAMPLES : ROOTLESSKIT_EXAMPLES);
  return cmd;
}

/**
 * parseRunFlags, with help and version written (help by commander, built
 * from the same table) and turned into CliExit(0).
 */
function resolveRunFlags(argv: readonly string[], spec: RunSpec, cmd?: RunCommand): ValidRunOptions {
  const r = parseRunFlags(argv, spec.mode);
  if ('help' in r) {
    (cmd ?? createRunCommand(spec)).outputHelp();
    throw new CliExit(0);
  }
  if ('version' in r) {
    spec.output.writeOut(versionText(programName(spec.mode)));
    throw new CliExit(0);
  }
  return r;
}

/** `standalone`: not attached to the `rootless` program, so the name carries the parent's. */
function runSpecFor(output: CliOutput, standalone: boolean): RunSpec {
  return { name: standalone ? 'rootless run' : 'run', prefix: 'rootless run', rootName: 'rootless', usage: RUN_USAGE, output, mode: 'run' };
}

function rootlesskitSpec(output: CliOutput): RunSpec {
  return {
    name: 'rootlesskit',
    prefix: 'rootlesskit',
    rootName: 'rootlesskit',
    usage: ROOTLESSKIT_USAGE,
    output,
    mode: 'rootlesskit',
  };
}

function specFor(mode: RunFlagsMode, output: CliOutput): RunSpec {
  return mode === 'run' ? runSpecFor(output, true) : rootlesskitSpec(output);
}

// ---------------------------------------------------------------------------
// Public entry points

const PASS_THROUGH_DESCRIPTIONS: Readonly<Record<PassThroughCommandName, string>> = {
  exec: 'run a command in the namespaces of a running session',
  ps: 'list running sessions',
  info: 'show information about a session (state dir, namespaces, drivers)',
  ports: 'list, add or remove published ports of a session',
  ctl: 'RootlessKit-compatible control of a session (like rootlessctl)',
  doctor: 'check whether this machine is ready for rootless, and print the fixes ([--json])',
  completion: 'print a completion script for bash or zsh',
};

/**
 * The `rootless` program: `run` plus the pass-through subcommands, each
 * calling its handler. Parse with `program.parseAsync(argv)` (or
 * `parse(argv, { from: 'user' })`); errors are UsageError, help/version throw
 * CliExit.
 */
export function buildProgram(handlers: ProgramHandlers, settings: ProgramSettings = {}): Command {
  const output = settings.output ?? processOutput;
  const program = new Command('rootless');
  configure(program, 'rootless', 'rootless', output);
  program
    .description(
      'Rootless namespace launcher: a user namespace in which you are root, with optional network, PID, UTS, IPC and cgroup namespaces, user-mode networking and port forwarding. Compatible with RootlessKit.',
    )
    .usage('<command> [flags]')
    .enablePositionalOptions();
  program.optionsGroup('Misc:');
  addVersionOption(program, 'rootless', output);
  program.addHelpOption(new Option('-h, --help', 'show help').helpGroup('Misc:'));
  program.addHelpText('after', PROGRAM_EXAMPLES);

  const runSpec = runSpecFor(output, false);
  const run = createRunCommand(runSpec);
  run.action(() => {
    if (run.runOptions === undefined) throw new Error('internal: run command produced no options');
    return handlers.run(run.runOptions);
  });
  program.addCommand(run);

  for (const name of PASS_THROUGH_COMMANDS) {
    const sub = new PassThroughCommand(name);
    configure(sub, `rootless ${name}`, 'rootless', output);
    sub
      .description(PASS_THROUGH_DESCRIPTIONS[name])
      .usage('[ARGS...]')
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => handlers[name](sub.passedArgv));
    program.addCommand(sub);
  }
  return program;
}

/** The names of rootless's subcommands (for `rootless help CMD` and completion). */
export function commandNames(): string[] {
  return buildProgram(NO_HANDLERS).commands.map((c) => c.name());
}

/**
 * The flags before the subcommand are all checked before any is acted on
 * (as `rootless run` does): `rootless --version --bogus` and `rootless
 * --bogus --help` are usage errors, not a version or help and exit 0. The
 * version takes no other argument.
 */
export function checkTopLevelFlags(argv: readonly string[]): void {
  let version = false;
  for (const a of argv) {
    if (a === '--' || a.length < 2 || !a.startsWith('-')) break;
    if (a === '-v' || a === '--version') version = true;
    else if (a !== '-h' && a !== '--help') {
      const hint = a.startsWith('--') ? didYouMean(a.slice(2).split('=')[0]!, ['version', 'help'], '--') : '';
      throw new UsageError(`rootless: unknown flag ${a.length > 80 ? quote(a) : a}${hint}`, { subject: a });
    }
  }
  const other = argv.find((a) => a !== '-v' && a !== '--version');
  if (version && other !== undefined) {
    throw new UsageError(`rootless: --version takes no other argument (got ${quote(other)})`, { subject: other });
  }
}

/**
 * Parse `rootless` argv (after the program name, e.g. process.argv.slice(2))
 * into what to do, without running anything. Throws UsageError or CliExit.
 */
export function parseArgv(argv: readonly string[], output: CliOutput = processOutput): ParsedCommand {
  checkTopLevelFlags(argv);
  let parsed: ParsedCommand | undefined;
  const pass =
    (kind: PassThroughCommandName) =>
    (a: string[]): void => {
      parsed = { kind, argv: a };
    };
  const program = buildProgram(
    {
      run: (options) => {
        parsed = { kind: 'run', options };
      },
      exec: pass('exec'),
      ps: pass('ps'),
      info: pass('info'),
      ports: pass('ports'),
      ctl: pass('ctl'),
      doctor: pass('doctor'),
      completion: pass('completion'),
    },
    { output },
  );
  program.parse([...argv], { from: 'user' });
  if (parsed === undefined) throw new CliExit(ExitCode.Usage);
  return parsed;
}

/**
 * Write the grouped help of `rootless run` / `rootlesskit` to `output`
 * (stdout by default): for the entry point when parseRunFlags returned
 * `{ help: true }`.
 */
export function writeRunHelp(mode: RunFlagsMode, output: CliOutput = processOutput): void {
  createRunCommand(specFor(mode, output)).outputHelp();
}
