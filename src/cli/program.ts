// The command-line surface: `rootless run [flags] -- CMD [ARGS...]`, the
// placeholder subcommands, and `rootlesskit [flags] CMD [ARGS...]` for when
// our binary is invoked under RootlessKit's name.
//
// Flags are RootlessKit's (urfave/cli, i.e. Go's flag package), so argv is
// first normalized by `normalizeFlagArgv`: `-flag` and `--flag` are the same,
// `--flag=value` and `--flag value` are the same, booleans take
// `--flag=true|false` (and Go's other spellings), and flags end at `--` or at
// the first argument that is not a flag: everything after belongs to CMD.
// Commander then sees `[--long=value...] [--bool...] -- CMD...`.
//
// Errors are UsageError (exit 2) with one line: `rootless run: unknown flag
// --foo`, `rootless run: --net: invalid value "x" (choose ...)`. Help and
// --version write their text and throw CliExit(0); the entry point sets the
// exit code from it. No launcher logic here: handlers are injected.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { ParseOptionsResult } from 'commander';
import { ExitCode, UsageError } from '../sys/errors.js';
import {
  COPY_UP_MODES,
  DEFAULT_MTU,
  MTU_MAX,
  MTU_MIN,
  LOG_LEVELS,
  NET_DRIVERS,
  PORT_DRIVERS,
  PROPAGATIONS,
  SUBID_SOURCES,
  TRISTATES,
  parseChoice,
  parseCidr,
  parseEvacuateCgroup2,
  parseIfname,
  parseMtu,
  parseNetDriver,
  parseSessionName,
  parseStateDir,
  quote,
  validateRunOptions,
} from './options.js';
import type {
  CopyUpMode,
  LogLevel,
  NetDriver,
  PortDriverName,
  Propagation,
  RunOptions,
  SubidSource,
  Tristate,
} from './options.js';

// ---------------------------------------------------------------------------
// Public types

/** Where help and version text go (stdout / stderr by default). */
export interface CliOutput {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

/** Subcommands whose argv is handed, unparsed, to their handler. */
export const PASS_THROUGH_COMMANDS = ['exec', 'ps', 'info', 'ports', 'ctl'] as const;
export type PassThroughCommandName = (typeof PASS_THROUGH_COMMANDS)[number];

export type ParsedCommand =
  | { kind: 'run'; options: RunOptions }
  | { kind: PassThroughCommandName; argv: string[] };

type HandlerResult = void | Promise<void>;

export interface ProgramHandlers {
  run(options: RunOptions): HandlerResult;
  exec(argv: string[]): HandlerResult;
  ps(argv: string[]): HandlerResult;
  info(argv: string[]): HandlerResult;
  ports(argv: string[]): HandlerResult;
  ctl(argv: string[]): HandlerResult;
}

export interface ProgramSettings {
  output?: CliOutput;
}

/**
 * Thrown after help or the version was written (exitCode 0), or after help
 * was written to stderr because no subcommand was given (exitCode 2). Not an
 * error to print: the entry point exits with `exitCode`.
 */
export class CliExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'CliExit';
    this.exitCode = exitCode;
  }
}

export const RUN_USAGE = 'rootless run [flags] -- CMD [ARGS...]';
export const ROOTLESSKIT_USAGE = 'rootlesskit [flags] CMD [ARGS...]';

// ---------------------------------------------------------------------------
// Version, read lazily from package.json (dist/src/cli/program.js -> ../../../).

let cachedVersion: string | undefined;
export function packageVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
        version?: unknown;
      };
      cachedVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

const processOutput: CliOutput = {
  writeOut: (text) => void process.stdout.write(text),
  writeErr: (text) => void process.stderr.write(text),
};

// ---------------------------------------------------------------------------
// Error plumbing

/** Prefix a UsageError's message with the program name, once. */
function prefixUsage(prefix: string, err: unknown): unknown {
  if (err instanceof UsageError && !err.message.startsWith(`${prefix}: `)) {
    const fields = {
      step: err.step,
      exitCode: err.exitCode,
      cause: err,
      ...(err.subject === undefined ? {} : { subject: err.subject }),
      ...(err.hint === undefined ? {} : { hint: err.hint }),
    };
    return new UsageError(`${prefix}: ${err.message}`, fields);
  }
  return err;
}

function withPrefix<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw prefixUsage(prefix, err);
  }
}

/** The long flag out of commander's flags text, e.g. "-p, --publish <spec>" -> "--publish". */
function longFlag(flags: string): string {
  const m = /--[A-Za-z0-9-]+/.exec(flags) ?? /-[A-Za-z0-9]/.exec(flags);
  return m === null ? flags : m[0];
}

/** Turn commander's own errors into one-line UsageErrors (or CliExit). */
function convertCommanderError(err: CommanderError, prefix: string, rootName: string): Error {
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
      return new UsageError(`${prefix}: unknown flag ${m?.[1] ?? msg}`, { subject: m?.[1] ?? msg });
    case 'commander.unknownCommand':
      m = /unknown command '([^']*)'/.exec(msg);
      return new UsageError(`${prefix}: unknown command ${quote(m?.[1] ?? msg)} (see ${rootName} --help)`, {
        subject: m?.[1] ?? msg,
      });
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
      throw convertCommanderError(err, prefix, rootName);
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
    output.writeOut(`${name} version ${packageVersion()}\n`);
    throw new CliExit(0);
  });
}

// ---------------------------------------------------------------------------
// RootlessKit-style argv normalization

/** RootlessKit flags that rootless does not have, and what to use instead. */
const UNSUPPORTED_FLAGS: Readonly<Record<string, string>> = {
  'vpnkit-binary': 'VPNKit is not supported; use --net=slirp4netns or --net=pasta',
  'lxc-user-nic-binary': 'lxc-user-nic is not supported; use --net=slirp4netns or --net=pasta',
  'lxc-user-nic-bridge': 'lxc-user-nic is not supported; use --net=slirp4netns or --net=pasta',
};

/** Go's strconv.ParseBool, which urfave/cli uses for `--flag=value`. */
function parseGoBool(flag: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new UsageError(`${flag}: invalid boolean value ${quote(value)} (use true or false)`, { subject: value });
}

/**
 * Rewrite RootlessKit-style argv for `cmd` (whose options are looked up by
 * name) into `[--long=value...] [--bool...] [--help] [-- CMD ARGS...]`.
 * Throws UsageError (unprefixed) for unknown or unsupported flags, bad
 * boolean values and missing values.
 */
export function normalizeFlagArgv(cmd: Command, argv: readonly string[]): string[] {
  const byName = new Map<string, Option>();
  for (const opt of cmd.options) {
    if (opt.long !== undefined) byName.set(opt.long.replace(/^--/, ''), opt);
    if (opt.short !== undefined) byName.set(opt.short.replace(/^-/, ''), opt);
  }
  const flags: string[] = [];
  const bools = new Map<string, boolean>(); // the last one wins, like Go
  let help = false;
  let command: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      command = argv.slice(i + 1);
      break;
    }
    if (arg.length < 2 || !arg.startsWith('-')) {
      command = argv.slice(i);
      break;
    }
    const dashes = arg.startsWith('--') ? '--' : '-';
    const body = arg.slice(dashes.length);
    const eq = body.indexOf('=');
    let name = eq < 0 ? body : body.slice(0, eq);
    let value: string | undefined = eq < 0 ? undefined : body.slice(eq + 1);

    if (name === 'h' || name === 'help') {
      help = value === undefined ? true : parseGoBool(`--help`, value);
      continue;
    }
    const unsupported = UNSUPPORTED_FLAGS[name];
    if (unsupported !== undefined) {
      throw new UsageError(`--${name} is not supported by rootless (${unsupported})`, { subject: `--${name}` });
    }
    let opt = byName.get(name);
    if (opt === undefined && dashes === '-' && value === undefined && name.length > 1) {
      // Commander style: -p8080:80
      const short = byName.get(name.slice(0, 1));
      if (short !== undefined && short.short === `-${name.slice(0, 1)}` && !short.isBoolean()) {
        opt = short;
        value = name.slice(1);
        name = name.slice(0, 1);
      }
    }
    if (opt === undefined || name === '') {
      throw new UsageError(`unknown flag ${dashes}${name}`, { subject: `${dashes}${name}` });
    }
    const canonical = opt.long ?? (opt.short as string);
    if (opt.isBoolean()) {
      bools.set(canonical, value === undefined ? true : parseGoBool(canonical, value));
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`${canonical}: missing value`, { subject: canonical });
      value = argv[++i] as string;
    }
    flags.push(`${canonical}=${value}`);
  }

  for (const [flag, on] of bools) if (on) flags.push(flag);
  if (help) flags.push('--help');
  return command.length > 0 ? [...flags, '--', ...command] : flags;
}

/** A command whose argv is RootlessKit-style: normalized before commander parses it. */
class RunCommand extends Command {
  readonly errorPrefix: string;
  constructor(name: string, errorPrefix: string) {
    super(name);
    this.errorPrefix = errorPrefix;
  }
  override parseOptions(argv: string[]): ParseOptionsResult {
    return withPrefix(this.errorPrefix, () => super.parseOptions(normalizeFlagArgv(this, argv)));
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

// ---------------------------------------------------------------------------
// The run flags

function choice<T extends string>(flag: string, choices: readonly T[]): (v: string) => T {
  return (v) => parseChoice(flag, v, choices);
}

function collect(v: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), v];
}

function nonEmptyValue(flag: string): (v: string) => string {
  return (v) => {
    if (v === '') throw new UsageError(`${flag}: the value is empty`, { subject: v });
    return v;
  };
}

function list(choices: readonly string[]): string {
  return `[${choices.join(', ')}]`;
}

/** Add the run flags, grouped like RootlessKit's help. */
function addRunFlags(cmd: Command): void {
  const add = (group: string, opt: Option): void => {
    cmd.addOption(opt.helpGroup(`${group}:`));
  };

  // Mount
  add(
    'Mount',
    new Option('--copy-up <dir>', 'mount a tmpfs on <dir> with the contents of the original (symlinks); repeatable, e.g. "--copy-up=/etc" (typically required for non-host network)')
      .argParser(collect)
      .default([], 'none'),
  );
  add(
    'Mount',
    new Option('--copy-up-mode <mode>', `copy-up mode ${list(COPY_UP_MODES)}`)
      .argParser(choice('--copy-up-mode', COPY_UP_MODES))
      .default('tmpfs+symlink'),
  );
  add(
    'Mount',
    new Option('--propagation <mode>', `mount propagation ${list(PROPAGATIONS)}`)
      .argParser(choice('--propagation', PROPAGATIONS))
      .default('rprivate'),
  );

  // Network
  add(
    'Network',
    new Option('--net <driver>', `network driver ${list(NET_DRIVERS)}`).argParser(parseNetDriver).default('host'),
  );
  add(
    'Network',
    new Option('--mtu <n>', `MTU for non-host network (${MTU_MIN}-${MTU_MAX}; 0 means the default)`)
      .argParser(parseMtu)
      .default(DEFAULT_MTU),
  );
  add('Network', new Option('--cidr <cidr>', 'IPv4 CIDR for slirp4netns/pasta network (default: 10.0.2.0/24)').argParser(parseCidr));
  add('Network', new Option('--ifname <name>', 'network interface name in the namespace').argParser(parseIfname).default('tap0'));
  add('Network', new Option('--disable-host-loopback', 'prohibit connecting to 127.0.0.1:* on the host namespace'));
  add('Network', new Option('--ipv6', 'enable IPv6 routing. Unrelated to port forwarding (slirp4netns and pasta)'));
  add(
    'Network',
    new Option('--detach-netns', 'keep the child in the host network namespace; the new one is at $ROOTLESSKIT_STATE_DIR/netns'),
  );

  // Network [slirp4netns]
  add(
    'Network [slirp4netns]',
    new Option('--slirp4netns-binary <path>', 'path of slirp4netns binary for --net=slirp4netns')
      .argParser(nonEmptyValue('--slirp4netns-binary'))
      .default('slirp4netns'),
  );
  add(
    'Network [slirp4netns]',
    new Option('--slirp4netns-sandbox <mode>', `enable slirp4netns sandbox ${list(TRISTATES)}`)
      .argParser(choice('--slirp4netns-sandbox', TRISTATES))
      .default('auto'),
  );
  add(
    'Network [slirp4netns]',
    new Option('--slirp4netns-seccomp <mode>', `enable slirp4netns seccomp ${list(TRISTATES)}`)
      .argParser(choice('--slirp4netns-seccomp', TRISTATES))
      .default('auto'),
  );

  // Network [pasta]
  add(
    'Network [pasta]',
    new Option('--pasta-binary <path>', 'path of pasta binary for --net=pasta')
      .argParser(nonEmptyValue('--pasta-binary'))
      .default('pasta'),
  );

  // Port
  add(
    'Port',
    new Option('--port-driver <driver>', `port driver for non-host network ${list(PORT_DRIVERS)} (implicit: for pasta)`)
      .argParser(choice('--port-driver', PORT_DRIVERS))
      .default('none'),
  );
  add(
    'Port',
    new Option('-p, --publish <spec>', 'publish ports; repeatable, e.g. "127.0.0.1:8080:80/tcp"').argParser(collect).default([], 'none'),
  );

  // Process
  add('Process', new Option('--pidns', 'create a PID namespace'));
  add('Process', new Option('--cgroupns', 'create a cgroup namespace'));
  add('Process', new Option('--utsns', 'create a UTS namespace'));
  add('Process', new Option('--ipcns', 'create an IPC namespace'));
  add(
    'Process',
    new Option('--reaper <mode>', `enable process reaper. Requires --pidns. ${list(TRISTATES)}`)
      .argParser(choice('--reaper', TRISTATES))
      .default('auto'),
  );
  add(
    'Process',
    new Option('--evacuate-cgroup2 <group>', 'evacuate processes into the specified subgroup. Requires --pidns and --cgroupns').argParser(
      parseEvacuateCgroup2,
    ),
  );

  // State
  add('State', new Option('--state-dir <dir>', 'state directory (absolute; default: a new temporary directory)').argParser(parseStateDir));
  add('State', new Option('--name <name>', 'session name, for `rootless exec/ps/ports`').argParser(parseSessionName));

  // SubID
  add(
    'SubID',
    new Option(
      '--subid-source <source>',
      `the source of the subids. "dynamic" executes getsubids, "static" reads /etc/{subuid,subgid}, "none" maps only your own ids ${list(SUBID_SOURCES)}`,
    )
      .argParser(choice('--subid-source', SUBID_SOURCES))
      .default('auto'),
  );

  // Logging
  add('Logging', new Option('--debug', 'debug mode (same as --log-level=debug)'));
  add(
    'Logging',
    new Option('--log-level <level>', `log level ${list(LOG_LEVELS)} (default: "info", or "debug" with --debug)`).argParser(
      choice('--log-level', LOG_LEVELS),
    ),
  );
}

interface RunSpec {
  /** Command name (shown in help's usage line). */
  name: string;
  /** Prefix of error messages, e.g. "rootless run". */
  prefix: string;
  /** Root program name, for "see X --help". */
  rootName: string;
  /** The usage line quoted in "missing command". */
  usage: string;
  output: CliOutput;
  /** RootlessKit mode: -v/--version on this command. */
  version?: string;
}

function createRunCommand(spec: RunSpec): RunCommand {
  const cmd = new RunCommand(spec.name, spec.prefix);
  configure(cmd, spec.prefix, spec.rootName, spec.output);
  cmd
    .usage(spec.usage.slice(spec.usage.indexOf(' ') + 1).replace(/^run /, ''))
    .argument('[command...]', 'the command to run in the namespaces, and its arguments')
    .passThroughOptions()
    .configureHelp({ helpWidth: 100 });
  addRunFlags(cmd);
  cmd.optionsGroup('Misc:');
  if (spec.version !== undefined) addVersionOption(cmd, spec.version, spec.output);
  cmd.addHelpOption(new Option('-h, --help', 'show help').helpGroup('Misc:'));
  return cmd;
}

/** The raw flag values as commander stores them (after the argParsers). */
interface RunFlagValues {
  copyUp: string[];
  copyUpMode: CopyUpMode;
  propagation: Propagation;
  net: NetDriver;
  mtu: number;
  cidr?: string;
  ifname: string;
  disableHostLoopback?: boolean;
  ipv6?: boolean;
  detachNetns?: boolean;
  slirp4netnsBinary: string;
  slirp4netnsSandbox: Tristate;
  slirp4netnsSeccomp: Tristate;
  pastaBinary: string;
  portDriver: PortDriverName;
  publish: string[];
  pidns?: boolean;
  cgroupns?: boolean;
  utsns?: boolean;
  ipcns?: boolean;
  reaper: Tristate;
  evacuateCgroup2?: string;
  stateDir?: string;
  name?: string;
  subidSource: SubidSource;
  debug?: boolean;
  logLevel?: LogLevel;
}

/** Read the parsed command into RunOptions and validate (prefixed errors). */
function runOptionsFrom(cmd: Command, spec: RunSpec): RunOptions {
  const v = cmd.opts<RunFlagValues>();
  const command = [...cmd.args];
  if (command.length === 0) {
    throw new UsageError(`${spec.prefix}: missing command (usage: ${spec.usage})`);
  }
  const options: RunOptions = {
    command,
    stateDir: v.stateDir,
    subidSource: v.subidSource,
    propagation: v.propagation,
    net: v.net,
    mtu: v.mtu,
    cidr: v.cidr,
    ifname: v.ifname,
    disableHostLoopback: v.disableHostLoopback === true,
    ipv6: v.ipv6 === true,
    detachNetns: v.detachNetns === true,
    slirp4netnsBinary: v.slirp4netnsBinary,
    slirp4netnsSandbox: v.slirp4netnsSandbox,
    slirp4netnsSeccomp: v.slirp4netnsSeccomp,
    pastaBinary: v.pastaBinary,
    portDriver: v.portDriver,
    publish: [...v.publish],
    pidns: v.pidns === true,
    cgroupns: v.cgroupns === true,
    utsns: v.utsns === true,
    ipcns: v.ipcns === true,
    reaper: v.reaper,
    evacuateCgroup2: v.evacuateCgroup2,
    copyUp: [...v.copyUp],
    copyUpMode: v.copyUpMode,
    // An explicit --log-level wins over --debug.
    logLevel: v.logLevel ?? (v.debug === true ? 'debug' : 'info'),
    name: v.name,
  };
  return withPrefix(spec.prefix, () => validateRunOptions(options));
}

/** `standalone`: not attached to the `rootless` program, so the name carries the parent's. */
function runSpecFor(output: CliOutput, standalone: boolean): RunSpec {
  return { name: standalone ? 'rootless run' : 'run', prefix: 'rootless run', rootName: 'rootless', usage: RUN_USAGE, output };
}

function rootlesskitSpec(output: CliOutput): RunSpec {
  return {
    name: 'rootlesskit',
    prefix: 'rootlesskit',
    rootName: 'rootlesskit',
    usage: ROOTLESSKIT_USAGE,
    output,
    version: 'rootlesskit',
  };
}

function parseStandalone(argv: readonly string[], spec: RunSpec): RunOptions {
  const cmd = createRunCommand(spec);
  let result: RunOptions | undefined;
  cmd.action(() => {
    result = runOptionsFrom(cmd, spec);
  });
  cmd.parse([...argv], { from: 'user' });
  if (result === undefined) throw new Error('internal: run command produced no options');
  return result;
}

// ---------------------------------------------------------------------------
// Public entry points

const PASS_THROUGH_DESCRIPTIONS: Readonly<Record<PassThroughCommandName, string>> = {
  exec: 'run a command in the namespaces of a running session',
  ps: 'list running sessions',
  info: 'show information about a session (state dir, namespaces, drivers)',
  ports: 'list, add or remove published ports of a session',
  ctl: 'RootlessKit-compatible control of a session (like rootlessctl)',
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

  const runSpec = runSpecFor(output, false);
  const run = createRunCommand(runSpec);
  run.description('run a command in new namespaces (RootlessKit flags)');
  run.action(() => handlers.run(runOptionsFrom(run, runSpec)));
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

/**
 * Parse `rootless` argv (after the program name, e.g. process.argv.slice(2))
 * into what to do, without running anything. Throws UsageError or CliExit.
 */
export function parseArgv(argv: readonly string[], output: CliOutput = processOutput): ParsedCommand {
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
    },
    { output },
  );
  program.parse([...argv], { from: 'user' });
  if (parsed === undefined) throw new CliExit(ExitCode.Usage);
  return parsed;
}

/** Parse argv after `rootless run`. Pure: throws UsageError / CliExit. */
export function parseRunArgv(argv: readonly string[], output: CliOutput = processOutput): RunOptions {
  return parseStandalone(argv, runSpecFor(output, true));
}

/**
 * Parse argv as RootlessKit gets it (after argv[0]): `[flags] CMD ARGS...`.
 * For our binary invoked as `rootlesskit` (dockerd-rootless.sh looks for it).
 */
export function parseRootlesskitArgv(argv: readonly string[], output: CliOutput = processOutput): RunOptions {
  return parseStandalone(argv, rootlesskitSpec(output));
}

/** Whether argv[0] (a path or name) is RootlessKit's name. */
export function invokedAsRootlesskit(argv0: string): boolean {
  const base = argv0.slice(argv0.lastIndexOf('/') + 1);
  return base === 'rootlesskit';
}
