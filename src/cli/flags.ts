// The flags of `rootless run [flags] -- CMD [ARGS...]` (and of `rootlesskit
// [flags] CMD [ARGS...]` when our binary runs under that name): one
// declarative table, RUN_FLAGS, and a hand-written parser for it,
// parseRunFlags.
//
// This module is on the critical path of every `rootless run`, so it must stay
// cheap to load: it must NOT import commander (nor anything that imports it),
// nor node:child_process. program.ts builds commander's `run` Options (for
// --help) from the same table; test/unit/cli-flags.test.ts checks both that
// the help lists every flag and that nothing here reaches commander.
//
// Syntax is RootlessKit's (urfave/cli, i.e. Go's flag package): `-flag` and
// `--flag` are the same, `--flag=value` and `--flag value` are the same,
// booleans take `--flag=true|false` (and Go's other spellings) but never the
// next argument, the last occurrence wins, and flags end at `--` or at the
// first argument that is not a flag: everything after belongs to CMD. As a
// convenience, `-p8080:80` is `-p 8080:80`.
//
// Errors are UsageError (exit 2) with one line, prefixed with the program:
// `rootless run: unknown flag --foo`, `rootlesskit: --net: missing value`.

import { UsageError } from '../sys/errors.js';
import { packageVersion } from '../sys/version.js';
import { didYouMean } from './suggest.js';
import {
  COPY_UP_MODES,
  LOG_FORMATS,
  LOG_LEVELS,
  MTU_MAX,
  MTU_MIN,
  NET_DRIVERS,
  PORT_DRIVERS,
  PROPAGATIONS,
  SUBID_SOURCES,
  TRISTATES,
  defaultRunOptions,
  parseBinary,
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
import type { LogLevel, RunOptions, ValidRunOptions } from './options.js';

// ---------------------------------------------------------------------------
// Small things the entry point needs without loading commander

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

/** Whether argv[0] (a path or name) is RootlessKit's name. */
export function invokedAsRootlesskit(argv0: string): boolean {
  const base = argv0.slice(argv0.lastIndexOf('/') + 1);
  return base === 'rootlesskit';
}

export { packageVersion };

/** What `--version` prints, e.g. "rootlesskit version 0.1.0\n". */
export function versionText(name: string): string {
  return `${name} version ${packageVersion()}\n`;
}

/** Prefix a UsageError's message with the program name, once. Other errors pass. */
export function prefixUsage(prefix: string, err: unknown): unknown {
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

// ---------------------------------------------------------------------------
// The table

/** bool: `--x`, `--x=false`; value: `--x v` (last wins); list: repeatable, in order. */
export type RunFlagKind = 'bool' | 'value' | 'list';

/**
 * The values the flags set: RunOptions without the command, plus `debug`,
 * and `logLevel` undefined unless --log-level was given. parseRunFlags turns
 * them into RunOptions (an explicit --log-level wins over --debug).
 */
export type RunFlagValues = Omit<RunOptions, 'command' | 'logLevel'> & {
  logLevel: LogLevel | undefined;
  debug: boolean;
};
export type RunFlagKey = keyof RunFlagValues;

export interface RunFlag {
  /** Long name without dashes, e.g. "publish". */
  readonly long: string;
  /** One-letter name without the dash, e.g. "p". Only value/list flags take `-p8080:80`. */
  readonly short?: string;
  readonly kind: RunFlagKind;
  /** Where the value goes. */
  readonly key: RunFlagKey;
  /** Name of the value in help, e.g. "spec" for `--publish <spec>` (value and list flags). */
  readonly arg?: string;
  /**
   * Raw value -> typed value, throwing an unprefixed UsageError that names
   * the flag. Value flags: applied to each occurrence; list flags: to each
   * item. Absent: the raw string (validateRunOptions checks it).
   */
  readonly parse?: (value: string) => unknown;
  /** The values a choice flag takes (for shell completion). */
  readonly values?: readonly string[];
  /** Help group, without the colon, e.g. "Network [slirp4netns]". */
  readonly group: string;
  readonly description: string;
  /**
   * The default shown in help (from defaultRunOptions, the one source of the
   * defaults); absent: help shows none (bools, flags whose description says).
   */
  readonly default?: unknown;
  /** Help text for the default instead of the value itself, e.g. "none" for []. */
  readonly defaultHelp?: string;
  /** Parsed but not listed in help. */
  readonly hidden?: boolean;
}

/** Help groups of the run flags, in the order help shows them (then "Misc"). */
export const RUN_FLAG_GROUPS = [
  'Mount',
  'Network',
  'Network [slirp4netns]',
  'Network [pasta]',
  'Port',
  'Process',
  'State',
  'SubID',
  'Logging',
] as const;

const D = defaultRunOptions([]);

function choices(values: readonly string[]): string {
  return `[${values.join(', ')}]`;
}

function choice<T extends string>(flag: string, values: readonly T[]): (v: string) => T {
  return (v) => parseChoice(flag, v, values);
}

function binary(flag: string): (v: string) => string {
  return (v) => parseBinary(flag, v);
}

/** The run flags, in help order (grouped like RootlessKit's help). */
export const RUN_FLAGS: readonly RunFlag[] = [
  // Mount
  {
    long: 'copy-up',
    kind: 'list',
    key: 'copyUp',
    arg: 'dir',
    group: 'Mount',
    description:
      'mount a tmpfs on <dir> with the contents of the original (symlinks); repeatable, e.g. "--copy-up=/etc" (typically required for non-host network)',
    default: D.copyUp,
    defaultHelp: 'none',
  },
  {
    long: 'copy-up-mode',
    kind: 'value',
    key: 'copyUpMode',
    arg: 'mode',
    parse: choice('--copy-up-mode', COPY_UP_MODES),
    values: COPY_UP_MODES,
    group: 'Mount',
    description: `copy-up mode ${choices(COPY_UP_MODES)}`,
    default: D.copyUpMode,
  },
  {
    long: 'propagation',
    kind: 'value',
    key: 'propagation',
    arg: 'mode',
    parse: choice('--propagation', PROPAGATIONS),
    values: PROPAGATIONS,
    group: 'Mount',
    description: `mount propagation ${choices(PROPAGATIONS)}`,
    default: D.propagation,
  },

  // Network
  {
    long: 'net',
    kind: 'value',
    key: 'net',
    arg: 'driver',
    parse: parseNetDriver,
    values: NET_DRIVERS,
    group: 'Network',
    description: `network driver ${choices(NET_DRIVERS)}`,
    default: D.net,
  },
  {
    long: 'mtu',
    kind: 'value',
    key: 'mtu',
    arg: 'n',
    parse: parseMtu,
    group: 'Network',
    description: `MTU for non-host network (${MTU_MIN}-${MTU_MAX}; 0 means the default)`,
    default: D.mtu,
  },
  {
    long: 'cidr',
    kind: 'value',
    key: 'cidr',
    arg: 'cidr',
    parse: parseCidr,
    group: 'Network',
    description: 'IPv4 CIDR for slirp4netns/pasta network (default: 10.0.2.0/24)',
  },
  {
    long: 'ifname',
    kind: 'value',
    key: 'ifname',
    arg: 'name',
    parse: parseIfname,
    group: 'Network',
    description: 'network interface name in the namespace',
    default: D.ifname,
  },
  {
    long: 'disable-host-loopback',
    kind: 'bool',
    key: 'disableHostLoopback',
    group: 'Network',
    description: 'prohibit connecting to 127.0.0.1:* on the host namespace',
  },
  {
    long: 'ipv6',
    kind: 'bool',
    key: 'ipv6',
    group: 'Network',
    description: 'enable IPv6 routing. Unrelated to port forwarding (slirp4netns and pasta)',
  },
  {
    long: 'detach-netns',
    kind: 'bool',
    key: 'detachNetns',
    group: 'Network',
    description: 'keep the child in the host network namespace; the new one is at $ROOTLESSKIT_STATE_DIR/netns',
  },

  // Network [slirp4netns]
  {
    long: 'slirp4netns-binary',
    kind: 'value',
    key: 'slirp4netnsBinary',
    arg: 'path',
    parse: binary('--slirp4netns-binary'),
    group: 'Network [slirp4netns]',
    description: 'path of slirp4netns binary for --net=slirp4netns',
    default: D.slirp4netnsBinary,
  },
  {
    long: 'slirp4netns-sandbox',
    kind: 'value',
    key: 'slirp4netnsSandbox',
    arg: 'mode',
    parse: choice('--slirp4netns-sandbox', TRISTATES),
    values: TRISTATES,
    group: 'Network [slirp4netns]',
    description: `enable slirp4netns sandbox ${choices(TRISTATES)}`,
    default: D.slirp4netnsSandbox,
  },
  {
    long: 'slirp4netns-seccomp',
    kind: 'value',
    key: 'slirp4netnsSeccomp',
    arg: 'mode',
    parse: choice('--slirp4netns-seccomp', TRISTATES),
    values: TRISTATES,
    group: 'Network [slirp4netns]',
    description: `enable slirp4netns seccomp ${choices(TRISTATES)}`,
    default: D.slirp4netnsSeccomp,
  },

  // Network [pasta]
  {
    long: 'pasta-binary',
    kind: 'value',
    key: 'pastaBinary',
    arg: 'path',
    parse: binary('--pasta-binary'),
    group: 'Network [pasta]',
    description: 'path of pasta binary for --net=pasta',
    default: D.pastaBinary,
  },

  // Port
  {
    long: 'port-driver',
    kind: 'value',
    key: 'portDriver',
    arg: 'driver',
    parse: choice('--port-driver', PORT_DRIVERS),
    values: PORT_DRIVERS,
    group: 'Port',
    description: `port driver for non-host network ${choices(PORT_DRIVERS)} (implicit: for pasta)`,
    default: D.portDriver,
  },
  {
    long: 'publish',
    short: 'p',
    kind: 'list',
    key: 'publish',
    arg: 'spec',
    group: 'Port',
    description: 'publish ports; repeatable, e.g. "127.0.0.1:8080:80/tcp"',
    default: D.publish,
    defaultHelp: 'none',
  },
  {
    long: 'source-ip-transparent',
    kind: 'bool',
    key: 'sourceIPTransparent',
    group: 'Port',
    description: 'builtin port driver: servers inside see the client\'s address and port, TCP and UDP (default: true; false: the loopback address)',
  },

  // Process
  { long: 'pidns', kind: 'bool', key: 'pidns', group: 'Process', description: 'create a PID namespace' },
  { long: 'cgroupns', kind: 'bool', key: 'cgroupns', group: 'Process', description: 'create a cgroup namespace' },
  { long: 'utsns', kind: 'bool', key: 'utsns', group: 'Process', description: 'create a UTS namespace' },
  { long: 'ipcns', kind: 'bool', key: 'ipcns', group: 'Process', description: 'create an IPC namespace' },
  {
    long: 'keep-orphans',
    kind: 'bool',
    key: 'keepOrphans',
    group: 'Process',
    description: 'without --pidns, leave processes the command left running (daemons) alive when it exits, as RootlessKit does (default: they are killed)',
  },
  {
    long: 'reaper',
    kind: 'value',
    key: 'reaper',
    arg: 'mode',
    parse: choice('--reaper', TRISTATES),
    values: TRISTATES,
    group: 'Process',
    description: `enable process reaper. Requires --pidns. ${choices(TRISTATES)}`,
    default: D.reaper,
  },
  {
    long: 'evacuate-cgroup2',
    kind: 'value',
    key: 'evacuateCgroup2',
    arg: 'group',
    parse: parseEvacuateCgroup2,
    group: 'Process',
    description: 'evacuate processes into the specified subgroup. Requires --pidns and --cgroupns',
  },

  // State
  {
    long: 'state-dir',
    kind: 'value',
    key: 'stateDir',
    arg: 'dir',
    parse: parseStateDir,
    group: 'State',
    description: 'state directory (absolute; default: a new temporary directory)',
  },
  {
    long: 'name',
    kind: 'value',
    key: 'name',
    arg: 'name',
    parse: parseSessionName,
    group: 'State',
    description: 'session name, for `rootless exec/ps/ports`',
  },

  // SubID
  {
    long: 'subid-source',
    kind: 'value',
    key: 'subidSource',
    arg: 'source',
    parse: choice('--subid-source', SUBID_SOURCES),
    values: SUBID_SOURCES,
    group: 'SubID',
    description: `the source of the subids. "dynamic" executes getsubids, "static" reads /etc/{subuid,subgid}, "none" maps only your own ids ${choices(SUBID_SOURCES)}`,
    default: D.subidSource,
  },

  // Logging
  { long: 'debug', kind: 'bool', key: 'debug', group: 'Logging', description: 'debug mode (same as --log-level=debug)' },
  {
    long: 'log-level',
    kind: 'value',
    key: 'logLevel',
    arg: 'level',
    parse: choice('--log-level', LOG_LEVELS),
    values: LOG_LEVELS,
    group: 'Logging',
    description: `log level ${choices(LOG_LEVELS)} (default: "info", or "debug" with --debug)`,
  },
  {
    long: 'log-format',
    kind: 'value',
    key: 'logFormat',
    arg: 'format',
    parse: choice('--log-format', LOG_FORMATS),
    values: LOG_FORMATS,
    group: 'Logging',
    description: `"text": lines like "rootless: warning: ..."; "json": one JSON record per line ${choices(LOG_FORMATS)}`,
    default: D.logFormat,
  },
];

/** RootlessKit flags that rootless does not have, and what to use instead. */
export const UNSUPPORTED_RUN_FLAGS: Readonly<Record<string, string>> = {
  'vpnkit-binary': 'VPNKit is not supported; use --net=slirp4netns or --net=pasta',
  'lxc-user-nic-binary': 'lxc-user-nic is not supported; use --net=slirp4netns or --net=pasta',
  'lxc-user-nic-bridge': 'lxc-user-nic is not supported; use --net=slirp4netns or --net=pasta',
};

/** Long names, for suggestions (with -h/--help and -v/--version). */
const FLAG_NAMES = [...RUN_FLAGS.filter((f) => f.hidden !== true).map((f) => f.long), 'help', 'version'];

/** Long and short names -> flag. */
const BY_NAME = new Map<string, RunFlag>();
/** Short names only (for `-p8080:80`). */
const BY_SHORT = new Map<string, RunFlag>();
for (const f of RUN_FLAGS) {
  BY_NAME.set(f.long, f);
  if (f.short !== undefined) {
    BY_NAME.set(f.short, f);
    BY_SHORT.set(f.short, f);
  }
}

// ---------------------------------------------------------------------------
// The parser

export type RunFlagsMode = 'run' | 'rootlesskit';

/**
 * What parseRunFlags found: the validated options, or a request to show the
 * help (`-h`/`--help` among the flags: the caller prints it, e.g. with
 * program.ts's writeRunHelp, and exits 0), or the version (`-v`/`--version`:
 * the caller prints versionText(programName(mode)) and exits 0). Tell them apart with `'help' in r` / `'version' in r`.
 */
export type RunFlagsResult = ValidRunOptions | { readonly help: true } | { readonly version: true };

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's strconv.ParseBool, which urfave/cli uses for `--flag=value`. */
function parseGoBool(flag: string, value: string): boolean {
  if (GO_TRUE.has(value)) return true;
  if (GO_FALSE.has(value)) return false;
  throw new UsageError(`${flag}: invalid boolean value ${quote(value)} (use true or false)`, { subject: value });
}

/** The name --version prints: "rootless" or "rootlesskit". */
export function programName(mode: RunFlagsMode): string {
  return mode === 'run' ? 'rootless' : 'rootlesskit';
}

/** The program name errors start with. */
function prefixFor(mode: RunFlagsMode): string {
  return mode === 'run' ? 'rootless run' : 'rootlesskit';
}

/**
 * Parse the argv after `rootless run` (mode "run") or after `rootlesskit`
 * (mode "rootlesskit") into validated
 * RunOptions, or `{ help: true }` / `{ version: true }`.
 *
 * Checks happen in this order, the first failure wins: flag syntax, left to
 * right (unknown or unsupported flag, bad boolean, missing value); then the
 * values, left to right (the table's parsers); then --version; then --help;
 * then the command (missing command); then validateRunOptions. So
 * `--net=bogus --help` is an error, and `--help` alone needs no command.
 *
 * Throws UsageError with one line prefixed by "rootless run: " or
 * "rootlesskit: ". Pure: writes nothing.
 */
export function parseRunFlags(argv: readonly string[], mode: RunFlagsMode): RunFlagsResult {
  const prefix = prefixFor(mode);
  try {
    return parse(argv, mode, prefix);
  } catch (err) {
    throw prefixUsage(prefix, err);
  }
}

// Kept small (V8 compiles a function on its first call, at ~40 us per KB
// here, and this runs once per process): the rare paths are in the helpers
// below, and there are no iterator loops.
function parse(argv: readonly string[], mode: RunFlagsMode, prefix: string): RunFlagsResult {
  const values: RunFlagValues = { ...D, copyUp: [], publish: [], logLevel: undefined, debug: false };
  const set = values as unknown as Record<RunFlagKey, unknown>;
  const given: RunFlag[] = []; // value and list flags, in order,
  const raws: string[] = []; // and their values
  let help = false;
  let version = false;
  let start = argv.length; // of the command

  // 1. Syntax. Booleans are set here: the last one wins, like Go.
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      start = i + 1;
      break;
    }
    if (arg.length < 2 || arg.charCodeAt(0) !== 45 /* - */) {
      start = i;
      break;
    }
    const dashes = arg.charCodeAt(1) === 45 ? 2 : 1;
    const eq = arg.indexOf('=', dashes);
    const name = eq < 0 ? arg.slice(dashes) : arg.slice(dashes, eq);
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);

    let flag = BY_NAME.get(name);
    if (flag === undefined) {
      if (name === 'h' || name === 'help') {
        help = value === undefined || parseGoBool('--help', value);
        continue;
      }
      if (name === 'v' || name === 'version') {
        version = value === undefined || parseGoBool('--version', value);
        continue;
      }
      flag = unusualFlag(dashes, name, value);
      value = name.slice(1); // -p8080:80
    }
    if (flag.kind === 'bool') {
      set[flag.key] = value === undefined || parseGoBool(`--${flag.long}`, value);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw missingValue(flag);
      value = argv[++i] as string;
    }
    given.push(flag);
    raws.push(value);
  }

  // 2. Values, left to right.
  for (let j = 0; j < given.length; j++) {
    const flag = given[j] as RunFlag;
    const v = flag.parse === undefined ? raws[j] : flag.parse(raws[j] as string);
    if (flag.kind === 'list') (set[flag.key] as unknown[]).push(v);
    else set[flag.key] = v;
  }

  // 3. Version, help, the command.
  if (version) return { version: true };
  if (help) return { help: true };
  if (start >= argv.length) throw missingCommand(mode, prefix);

  const { debug, logLevel, ...rest } = values;
  return validateRunOptions({
    ...rest,
    command: argv.slice(start),
    // An explicit --log-level wins over --debug.
    logLevel: logLevel ?? (debug ? 'debug' : 'info'),
  });
}

/**
 * A name that is not in the table: `-p8080:80` (returns --publish, whose
 * value is the rest of the name), or an error (unsupported or unknown).
 */
function unusualFlag(dashes: number, name: string, value: string | undefined): RunFlag {
  const unsupported = UNSUPPORTED_RUN_FLAGS[name];
  if (unsupported !== undefined) {
    throw new UsageError(`--${name} is not supported by rootless (${unsupported})`, { subject: `--${name}` });
  }
  if (dashes === 1 && value === undefined && name.length > 1) {
    const short = BY_SHORT.get(name.slice(0, 1));
    if (short !== undefined && short.kind !== 'bool') return short;
  }
  const shown = `${dashes === 2 ? '--' : '-'}${name}`;
  throw new UsageError(`unknown flag ${shown.length > 80 ? quote(shown) : shown}${didYouMean(name, FLAG_NAMES, '--')}`, { subject: shown });
}

function missingValue(flag: RunFlag): UsageError {
  return new UsageError(`--${flag.long}: missing value`, { subject: `--${flag.long}` });
}

function missingCommand(mode: RunFlagsMode, prefix: string): UsageError {
  return new UsageError(`${prefix}: missing command (usage: ${mode === 'run' ? RUN_USAGE : ROOTLESSKIT_USAGE})`);
}
