// The validated options of `rootless run` (and of `rootlesskit ...` when our
// binary is invoked under that name), their defaults, and pure validation.
//
// Every check here throws UsageError with one line that names the flag and
// the offending value, e.g. `--mtu: 70000 is out of range (68-65521)`. The
// caller (program.ts) prefixes the program name. Nothing here touches the
// file system: existence of paths is the launcher's business.

import path from 'node:path';
import { UsageError, quoteValue } from '../sys/errors.js';
import { parsePublishFlags, type PublishFlag } from '../port/spec.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../sys/log.js';
import { PROPAGATIONS, type Propagation } from '../sys/mount.js';
import { NET_DRIVERS, PORT_DRIVERS, type NetDriverName, type PortDriverName } from '../protocol/drivers.js';
import type { SubidSource } from '../parent/plan.js';
import type { NetworkPlan, Tristate } from '../net/types.js';

export { LOG_FORMATS, LOG_LEVELS, NET_DRIVERS, PORT_DRIVERS, PROPAGATIONS };
export type { LogFormat, LogLevel, PortDriverName, Propagation, SubidSource, Tristate };
export type NetDriver = NetDriverName;
export type CopyUpMode = 'tmpfs+symlink';

export const TRISTATES: readonly Tristate[] = ['auto', 'true', 'false'];
export const SUBID_SOURCES: readonly SubidSource[] = ['auto', 'dynamic', 'static', 'none'];
export const COPY_UP_MODES: readonly CopyUpMode[] = ['tmpfs+symlink'];

/**
 * Network drivers RootlessKit has and rootless does not, with what to use
 * instead. Keyed by the --net value.
 */
export const UNSUPPORTED_NET_DRIVERS: Readonly<Record<string, string>> = {
  vpnkit: 'use --net=slirp4netns or --net=pasta',
  'lxc-user-nic': 'use --net=slirp4netns or --net=pasta',
  'gvisor-tap-vsock': 'use --net=slirp4netns or --net=pasta',
};

export const MTU_MIN = 68;
export const MTU_MAX = 65521;
export const DEFAULT_MTU = 65520;
export const CIDR_PREFIX_MIN = 8;
/** slirp4netns and pasta put the gateway at .2, DNS at .3 and the guest at .100. */
export const CIDR_PREFIX_MAX = 25;
/** IFNAMSIZ is 16 including the terminating NUL. */
export const IFNAME_MAX_BYTES = 15;

/** The flags' values; the network drivers' settings (mtu, cidr, ifname, ...) are NetworkPlan's. */
export interface RunOptions extends Omit<NetworkPlan, 'driver'> {
  /** Target argv, non-empty. */
  command: string[];
  /** Absolute, normalized; undefined: the launcher picks one. */
  stateDir: string | undefined;
  subidSource: SubidSource;
  propagation: Propagation;
  net: NetDriver;
  portDriver: PortDriverName;
  /** Raw -p specs, as given (validateRunOptions parses them: ValidRunOptions.publishSpecs). */
  publish: string[];
  /** Builtin port driver: keep the client's address (RootlessKit v3's --source-ip-transparent). */
  sourceIPTransparent: boolean;
  pidns: boolean;
  cgroupns: boolean;
  utsns: boolean;
  ipcns: boolean;
  reaper: Tristate;
  /**
   * Without --pidns: leave what the target left running (daemons) alive at
   * the end, as RootlessKit does. Default: it is killed.
   */
  keepOrphans: boolean;
  evacuateCgroup2: string | undefined;
  /** Absolute, normalized, unique. */
  copyUp: string[];
  copyUpMode: CopyUpMode;
  logLevel: LogLevel;
  /** text: `rootless: warning: ...` lines; json: one JSON record per line. */
  logFormat: LogFormat;
  /** Session name. */
  name: string | undefined;
}

/** RunOptions as validateRunOptions returns them, with what it parsed on the way. */
export interface ValidRunOptions extends RunOptions {
  /** `publish` parsed, in order: the LaunchPlan's ports.publish (src/cli/plan.ts). */
  publishSpecs: PublishFlag[];
}

export function defaultRunOptions(command: string[]): RunOptions {
  return {
    command: [...command],
    stateDir: undefined,
    subidSource: 'auto',
    propagation: 'rprivate',
    net: 'host',
    mtu: DEFAULT_MTU,
    cidr: undefined,
    ifname: 'tap0',
    disableHostLoopback: false,
    ipv6: false,
    detachNetns: false,
    slirp4netnsBinary: 'slirp4netns',
    slirp4netnsSandbox: 'auto',
    slirp4netnsSeccomp: 'auto',
    pastaBinary: 'pasta',
    portDriver: 'none',
    publish: [],
    sourceIPTransparent: true,
    pidns: false,
    cgroupns: false,
    utsns: false,
    ipcns: false,
    reaper: 'auto',
    keepOrphans: false,
    evacuateCgroup2: undefined,
    copyUp: [],
    copyUpMode: 'tmpfs+symlink',
    logLevel: 'info',
    logFormat: 'text',
    name: undefined,
  };
}

// ---------------------------------------------------------------------------
// Single-value parsers. Each takes the raw flag value and returns the typed,
// normalized value, or throws UsageError naming the flag.

/** JSON-quote a value for an error message (cut when long): sys/errors.ts. */
export const quote = quoteValue;

/** Validate a value against a list of choices. */
export function parseChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag}: invalid value ${quote(value)} (choose ${choices.join(', ')})`, {
    subject: value,
  });
}

/** --net: like parseChoice, with a pointer for RootlessKit drivers we lack. */
export function parseNetDriver(value: string): NetDriver {
  const instead = UNSUPPORTED_NET_DRIVERS[value];
  if (instead !== undefined) {
    throw new UsageError(`--net: ${quote(value)} is not supported by rootless; ${instead}`, {
      subject: value,
    });
  }
  return parseChoice('--net', value, NET_DRIVERS);
}

/**
 * --mtu: a decimal integer, 68..65521. `0` is accepted as RootlessKit's
 * "driver default" and yields 65520.
 */
export function parseMtu(value: string): number {
  if (!/^[0-9]+$/.test(value)) {
    throw new UsageError(`--mtu: ${quote(value)} is not an integer`, { subject: value });
  }
  const n = Number(value);
  if (n === 0) return DEFAULT_MTU;
  return checkMtu(n);
}

function checkMtu(n: number): number {
  if (!Number.isSafeInteger(n) || n < MTU_MIN || n > MTU_MAX) {
    throw new UsageError(`--mtu: ${n} is out of range (${MTU_MIN}-${MTU_MAX})`, { subject: String(n) });
  }
  return n;
}

/**
 * --cidr: an IPv4 network `a.b.c.d/n` with n in 8..25; host bits are
 * cleared, so `10.0.2.100/24` becomes `10.0.2.0/24`.
 */
export function parseCidr(value: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (m === null) {
    throw new UsageError(`--cidr: ${quote(value)} is not an IPv4 CIDR like 10.0.2.0/24`, { subject: value });
  }
  const parts = m.slice(1, 5).map((s, i) => {
    // Leading zeros are ambiguous (octal to inet_aton), and Go rejects them.
    if ((s.length > 1 && s.startsWith('0')) || Number(s) > 255) {
      throw new UsageError(`--cidr: ${quote(value)} has an invalid octet ${quote(s)} (#${i + 1})`, {
        subject: value,
      });
    }
    return Number(s);
  });
  const prefixText = m[5] as string;
  const prefix = Number(prefixText);
  if ((prefixText.length > 1 && prefixText.startsWith('0')) || prefix < CIDR_PREFIX_MIN || prefix > CIDR_PREFIX_MAX) {
    throw new UsageError(
      `--cidr: ${quote(value)}: prefix length /${prefixText} is out of range (/${CIDR_PREFIX_MIN}-/${CIDR_PREFIX_MAX}; the network needs room for .2, .3 and .100)`,
      { subject: value },
    );
  }
  const addr = (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (addr & mask) >>> 0;
  return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${prefix}`;
}

/**
 * --ifname: what the kernel's dev_valid_name() accepts (1..15 bytes, not "."
 * or "..", no '/', ':' or whitespace), no '%' (the kernel would expand
 * "%d", so the interface would not have the name we look it up by), and no
 * leading '-' (slirp4netns and pasta would take it for an option).
 */
export function parseIfname(value: string): string {
  const bad = (why: string): never => {
    throw new UsageError(`--ifname: ${quote(value)} ${why}`, { subject: value });
  };
  if (value.length === 0) bad('is empty');
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > IFNAME_MAX_BYTES) bad(`is too long (${bytes} bytes; at most ${IFNAME_MAX_BYTES})`);
  if (value === '.' || value === '..') bad('is not a valid interface name');
  if (value.startsWith('-')) bad("must not start with '-'");
  if (value.includes('/')) bad("must not contain '/'");
  if (value.includes(':')) bad("must not contain ':'");
  if (value.includes('%')) bad("must not contain '%'");
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00]/.test(value)) bad('must not contain whitespace or NUL');
  return value;
}

/** --name: [A-Za-z0-9][A-Za-z0-9_.-]{0,63} */
export function parseSessionName(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(value)) {
    throw new UsageError(
      `--name: ${quote(value)} is not a valid session name (1-64 of A-Z a-z 0-9 _ . -, starting with a letter or digit)`,
      { subject: value },
    );
  }
  return value;
}

/** An absolute path, normalized, without trailing slash, not "/". */
function absolutePath(flag: string, value: string): string {
  if (value.length === 0) throw new UsageError(`${flag}: the path is empty`, { subject: value });
  if (value.includes('\0')) throw new UsageError(`${flag}: ${quote(value)} contains NUL`, { subject: value });
  if (!value.startsWith('/')) {
    throw new UsageError(`${flag}: ${quote(value)} is not an absolute path`, { subject: value });
  }
  let p = path.posix.normalize(value);
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (p === '/') throw new UsageError(`${flag}: ${quote(value)} must not be the root directory`, { subject: value });
  return p;
}

/** --state-dir: absolute, normalized, not "/". */
export function parseStateDir(value: string): string {
  return absolutePath('--state-dir', value);
}

/** One --copy-up value: absolute, normalized, not "/". */
export function parseCopyUpDir(value: string): string {
  return absolutePath('--copy-up', value);
}

/**
 * --evacuate-cgroup2: the name of a sub-group of the current cgroup: not
 * empty, relative, no "." or ".." component.
 */
export function parseEvacuateCgroup2(value: string): string {
  const parts = value.split('/');
  if (value.length === 0 || value.startsWith('/') || value.includes('\0') || parts.some((c) => c === '.' || c === '..' || c === '')) {
    throw new UsageError(`--evacuate-cgroup2: ${quote(value)} is not a cgroup sub-group name (e.g. "rootless_evacuation")`, {
      subject: value,
    });
  }
  return value;
}

/**
 * --slirp4netns-binary, --pasta-binary: a program name or path. Not empty,
 * no NUL or control characters, and no leading '-' (it is also the
 * helper's argv[0] and what `--version` probes are run with).
 */
export function parseBinary(flag: string, value: string): string {
  if (value.length === 0) throw new UsageError(`${flag}: the value is empty`, { subject: value });
  // eslint-disable-next-line no-control-regex
  if (value.length === 0 || /[\x00-\x1f\x7f]/.test(value) || value.startsWith('-')) {
    throw new UsageError(`${flag}: ${quote(value)} is not a valid program name or path`, { subject: value });
  }
  return value;
}

/** A boolean option from the Node API, where nothing checked the type. */
function parseBoolOption(flag: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  throw new UsageError(`${flag}: invalid boolean value ${JSON.stringify(value)} (use true or false)`, { subject: String(value) });
}

// ---------------------------------------------------------------------------
// The whole object.

/**
 * Check every field and the rules between flags; return a normalized copy
 * (state dir, copy-up dirs and cidr normalized, duplicates rejected).
 * Throws UsageError with one line naming the flag(s) and value.
 */
export function validateRunOptions(o: RunOptions): ValidRunOptions {
  if (!Array.isArray(o.command) || o.command.length === 0 || typeof o.command[0] !== 'string' || o.command[0] === '') {
    throw new UsageError('missing command');
  }
  const net = parseNetDriver(o.net);
  const portDriver = parseChoice('--port-driver', o.portDriver, PORT_DRIVERS);
  const propagation = parseChoice('--propagation', o.propagation, PROPAGATIONS);
  const out: ValidRunOptions = {
    ...o,
    command: [...o.command],
    stateDir: o.stateDir === undefined ? undefined : parseStateDir(o.stateDir),
    subidSource: parseChoice('--subid-source', o.subidSource, SUBID_SOURCES),
    propagation,
    net,
    mtu: checkMtu(o.mtu),
    cidr: o.cidr === undefined ? undefined : parseCidr(o.cidr),
    ifname: parseIfname(o.ifname),
    slirp4netnsBinary: parseBinary('--slirp4netns-binary', o.slirp4netnsBinary),
    slirp4netnsSandbox: parseChoice('--slirp4netns-sandbox', o.slirp4netnsSandbox, TRISTATES),
    slirp4netnsSeccomp: parseChoice('--slirp4netns-seccomp', o.slirp4netnsSeccomp, TRISTATES),
    pastaBinary: parseBinary('--pasta-binary', o.pastaBinary),
    portDriver,
    publish: [...o.publish],
    publishSpecs: [],
    sourceIPTransparent: parseBoolOption('--source-ip-transparent', o.sourceIPTransparent),
    reaper: parseChoice('--reaper', o.reaper, TRISTATES),
    evacuateCgroup2: o.evacuateCgroup2 === undefined ? undefined : parseEvacuateCgroup2(o.evacuateCgroup2),
    copyUp: [],
    copyUpMode: parseChoice('--copy-up-mode', o.copyUpMode, COPY_UP_MODES),
    logLevel: parseChoice('--log-level', o.logLevel, LOG_LEVELS),
    logFormat: parseChoice('--log-format', o.logFormat, LOG_FORMATS),
    name: o.name === undefined ? undefined : parseSessionName(o.name),
  };

  // --copy-up: normalized, unique.
  const seen = new Map<string, string>();
  for (const raw of o.copyUp) {
    const dir = parseCopyUpDir(raw);
    const first = seen.get(dir);
    if (first !== undefined) {
      const how = first === raw && raw === dir ? '' : ` (${quote(first)} and ${quote(raw)})`;
      throw new UsageError(`--copy-up: ${quote(dir)} is given twice${how}`, { subject: dir });
    }
    seen.set(dir, raw);
    out.copyUp.push(dir);
  }

  // Network flags that need a network namespace.
  if (net === 'host') {
    const nsOnly: Array<[boolean, string]> = [
      [o.disableHostLoopback, '--disable-host-loopback'],
      [o.ipv6, '--ipv6'],
      [o.detachNetns, '--detach-netns'],
    ];
    for (const [given, flag] of nsOnly) {
      if (given) {
        throw new UsageError(`${flag} cannot be used with --net=host (it needs a network namespace: --net=slirp4netns or --net=pasta)`, {
          subject: flag,
        });
      }
    }
  }
  if (out.cidr !== undefined && (net === 'host' || net === 'none')) {
    throw new UsageError(`--cidr=${out.cidr} cannot be used with --net=${net} (only with --net=slirp4netns or --net=pasta)`, {
      subject: out.cidr,
    });
  }

  // Port drivers.
  switch (portDriver) {
    case 'slirp4netns':
      if (net !== 'slirp4netns') {
        throw new UsageError(`--port-driver=slirp4netns requires --net=slirp4netns (got --net=${net})`, { subject: net });
      }
      break;
    case 'implicit':
      if (net !== 'pasta') {
        throw new UsageError(`--port-driver=implicit requires --net=pasta (got --net=${net})`, { subject: net });
      }
      break;
    case 'builtin':
      if (net === 'host') {
        throw new UsageError(
          '--port-driver=builtin requires a network namespace, not --net=host (use --net=slirp4netns, --net=pasta or --net=none)',
          { subject: net },
        );
      }
      break;
    case 'none':
      if (out.publish.length > 0) {
        throw new UsageError(
          `--publish ${quote(out.publish[0] as string)} requires a port driver, but --port-driver=none (use --port-driver=builtin)`,
          { subject: out.publish[0] as string },
        );
      }
      break;
  }
  // -p specs, so a bad one stops the start before anything runs.
  out.publishSpecs = parsePublishFlags(out.publish);

  // Process flags.
  if (out.reaper === 'true' && !o.pidns) {
    throw new UsageError('--reaper=true requires --pidns', { subject: 'reaper' });
  }
  if (o.keepOrphans && o.pidns) {
    throw new UsageError('--keep-orphans cannot be used with --pidns (a PID namespace ends with its first process)', { subject: 'keep-orphans' });
  }
  if (out.evacuateCgroup2 !== undefined && (!o.pidns || !o.cgroupns)) {
    const missing = [!o.pidns ? '--pidns' : '', !o.cgroupns ? '--cgroupns' : ''].filter((s) => s !== '').join(' and ');
    throw new UsageError(`--evacuate-cgroup2=${out.evacuateCgroup2} requires --pidns and --cgroupns (missing ${missing})`, {
      subject: out.evacuateCgroup2,
    });
  }
  // A named session's state dir is where `rootless exec NAME` and `ps` look.
  if (out.name !== undefined && out.stateDir !== undefined) {
    throw new UsageError(`--name=${out.name} cannot be used with --state-dir (a named session's state dir is $XDG_RUNTIME_DIR/rootless/${out.name})`, {
      subject: out.name,
    });
  }

  // Mount flags (RootlessKit's rule: the tmpfs+symlink copy-up would be
  // propagated back to the host by a shared mount).
  if (out.copyUp.length > 0 && (propagation === 'rshared' || propagation === 'shared')) {
    throw new UsageError(`--propagation=${propagation} cannot be used with --copy-up (copy-up mode ${out.copyUpMode}); use rslave or rprivate`, {
      subject: propagation,
    });
  }

  return out;
}
