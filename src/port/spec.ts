// Port specs: `[PARENT_IP:]PARENT_PORT:[CHILD_IP:]CHILD_PORT[/PROTO]`, as
// `-p` and rootlessctl take them, and the JSON PortSpec of RootlessKit's REST
// API (same field names). IPv6 addresses go in brackets: `[::1]:8080:80/tcp`.
//
// Loaded by the CLI on the hot path (options.ts validates -p with it), so it
// imports nothing: addresses are checked here rather than with node:net.
import { UsageError, quoteValue } from '../sys/errors.js';

export const PORT_PROTOS = ['tcp', 'tcp4', 'tcp6', 'udp', 'udp4', 'udp6', 'sctp'] as const;
export type PortProto = (typeof PORT_PROTOS)[number];

/** RootlessKit's port.Spec. parentIP '' = every address of the host. */
export interface PortSpec {
  proto: PortProto;
  parentIP: string;
  parentPort: number;
  childIP?: string;
  childPort: number;
}

/** RootlessKit's port.Status. */
export interface PortStatus {
  id: number;
  spec: PortSpec;
}

export class PortSpecError extends UsageError {
  constructor(spec: string, reason: string) {
    super(`invalid port spec ${quoteValue(spec)}: ${reason}`, { step: 'port spec', subject: spec });
  }
}

export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  return parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

export function isIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45 || !/^[0-9a-fA-F:.]+$/.test(s)) return false;
  let groups = 8;
  let body = s;
  // An IPv4 tail (::ffff:1.2.3.4) counts as two groups.
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.')) {
    if (!isIPv4(s.slice(lastColon + 1))) return false;
    body = s.slice(0, lastColon + 1) + '0';
    groups = 7;
  }
  const halves = body.split('::');
  if (halves.length > 2) return false;
  const count = (h: string): number | undefined => {
    if (h === '') return 0;
    const g = h.split(':');
    return g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)) ? g.length : undefined;
  };
  const a = count(halves[0]!);
  if (a === undefined) return false;
  if (halves.length === 1) return a === groups;
  const b = count(halves[1]!);
  return b !== undefined && a + b < groups;
}

export function ipFamily(ip: string): 4 | 6 | undefined {
  return isIPv4(ip) ? 4 : isIPv6(ip) ? 6 : undefined;
}

/** The IP family a proto insists on (tcp4 -> 4), or undefined for both. */
export function protoFamily(proto: PortProto): 4 | 6 | undefined {
  return proto.endsWith('4') ? 4 : proto.endsWith('6') ? 6 : undefined;
}

/** tcp4 -> tcp, udp6 -> udp. */
export function baseProto(proto: PortProto): 'tcp' | 'udp' | 'sctp' {
  return proto.startsWith('tcp') ? 'tcp' : proto.startsWith('udp') ? 'udp' : 'sctp';
}

function isProto(s: string): s is PortProto {
  return (PORT_PROTOS as readonly string[]).includes(s);
}

/** Splits on ':' outside brackets; a bracketed part keeps its brackets. */
function splitColons(s: string, spec: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let inBracket = false;
  for (const ch of s) {
    if (ch === '[') {
      if (inBracket || cur !== '') throw new PortSpecError(spec, 'unexpected "["');
      inBracket = true;
      cur = '[';
    } else if (ch === ']') {
      if (!inBracket) throw new PortSpecError(spec, 'unexpected "]"');
      inBracket = false;
      cur += ']';
    } else if (ch === ':' && !inBracket) {
      parts.push(cur);
      cur = '';
    } else {
      if (!inBracket && cur.endsWith(']')) throw new PortSpecError(spec, `unexpected text after "${cur}"`);
      cur += ch;
    }
  }
  if (inBracket) throw new PortSpecError(spec, 'missing "]"');
  parts.push(cur);
  return parts;
}

function parsePort(text: string, which: string, spec: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) {
    throw new PortSpecError(spec, text === '' ? `missing ${which}` : `${which} ${quoteValue(text)} is not a number`);
  }
  const n = Number(text);
  if (n < 1 || n > 65535) throw new PortSpecError(spec, `${which} ${n} is outside 1-65535`);
  return n;
}

function parseIP(text: string, which: string, spec: string): string {
  if (text.startsWith('[')) {
    const inner = text.slice(1, -1);
    if (!isIPv6(inner)) throw new PortSpecError(spec, `${which} ${quoteValue(inner)} is not an IPv6 address`);
    return inner;
  }
  if (isIPv4(text)) return text;
  if (isIPv6(text)) throw new PortSpecError(spec, `IPv6 ${which} must be in brackets: [${text}]`);
  throw new PortSpecError(spec, `${which} ${quoteValue(text)} is not an IP address`);
}

const looksLikePort = (s: string): boolean => /^[0-9]+$/.test(s);

/**
 * Parses `[PARENT_IP:]PARENT_PORT:[CHILD_IP:]CHILD_PORT[/PROTO]` (proto
 * defaults to tcp). Throws PortSpecError (a UsageError) naming the spec.
 */
export function parsePortSpec(spec: string): PortSpec {
  if (typeof spec !== 'string' || spec.trim() === '') throw new PortSpecError(String(spec), 'empty');
  let rest = spec;
  let proto: PortProto = 'tcp';
  const slash = spec.lastIndexOf('/');
  if (slash >= 0) {
    const p = spec.slice(slash + 1);
    if (!isProto(p)) throw new PortSpecError(spec, `unknown proto ${quoteValue(p)} (choose ${PORT_PROTOS.join(', ')})`);
    proto = p;
    rest = spec.slice(0, slash);
  }
  const parts = splitColons(rest, spec);
  let parentIP = '';
  let childIP: string | undefined;
  let parentPortText: string;
  let childPortText: string;
  switch (parts.length) {
    case 2:
      [parentPortText, childPortText] = parts as [string, string];
      break;
    case 3: {
      const [a, b, c] = parts as [string, string, string];
      // "IP:PORT:PORT" or "PORT:IP:PORT": an address is never all digits.
      if (looksLikePort(a) && !looksLikePort(b)) {
        parentPortText = a;
        childIP = parseIP(b, 'child IP', spec);
      } else {
        parentIP = a === '' ? '' : parseIP(a, 'parent IP', spec);
        parentPortText = b;
      }
      childPortText = c;
      break;
    }
    case 4: {
      const [a, b, c, d] = parts as [string, string, string, string];
      parentIP = a === '' ? '' : parseIP(a, 'parent IP', spec);
      parentPortText = b;
      childIP = parseIP(c, 'child IP', spec);
      childPortText = d;
      break;
    }
    default:
      if (rest.includes(',')) throw new PortSpecError(spec, 'one port spec per flag or argument (found ",")');
      if (parts.length > 4 && /^[0-9a-fA-F:.]*$/.test(rest)) {
        throw new PortSpecError(spec, 'IPv6 addresses must be in brackets, e.g. [::1]:8080:80/tcp');
      }
      throw new PortSpecError(spec, 'expected [PARENT_IP:]PARENT_PORT:[CHILD_IP:]CHILD_PORT[/PROTO]');
  }
  const out: PortSpec = {
    proto,
    parentIP,
    parentPort: parsePort(parentPortText, 'parent port', spec),
    childPort: parsePort(childPortText, 'child port', spec),
  };
  if (childIP !== undefined) out.childIP = childIP;
  checkFamilies(out, (reason) => new PortSpecError(spec, reason));
  return out;
}

function checkFamilies(s: PortSpec, fail: (reason: string) => Error): void {
  const want = protoFamily(s.proto);
  if (want === undefined) return;
  for (const [ip, which] of [[s.parentIP, 'parent IP'], [s.childIP ?? '', 'child IP']] as const) {
    const fam = ip === '' ? undefined : ipFamily(ip);
    if (fam !== undefined && fam !== want) throw fail(`${which} ${ip} is IPv${fam}, but proto ${s.proto} is IPv${want} only`);
  }
}

/** The host side of a spec: "127.0.0.1:8080", "[::1]:8080", "*:8080". */
export function parentAddress(s: PortSpec): string {
  return `${s.parentIP === '' ? '*' : s.parentIP.includes(':') ? `[${s.parentIP}]` : s.parentIP}:${s.parentPort}`;
}

/** Canonical text of a spec, for messages and tables. */
export function formatPortSpec(s: PortSpec): string {
  const ip = (a: string): string => (a.includes(':') ? `[${a}]` : a);
  const parent = s.parentIP === '' ? `${s.parentPort}` : `${ip(s.parentIP)}:${s.parentPort}`;
  const child = s.childIP === undefined || s.childIP === '' ? `${s.childPort}` : `${ip(s.childIP)}:${s.childPort}`;
  return `${parent}:${child}/${s.proto}`;
}

/** A request's PortSpec could not be accepted (the API answers 400 with this message). */
export class PortRequestError extends Error {}

/**
 * Checks a PortSpec that came as JSON (REST API): types, proto, addresses,
 * ports. Messages follow RootlessKit's ("unknown proto: \"x\"").
 */
export function validatePortSpec(body: unknown): PortSpec {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new PortRequestError('PortSpec must be a JSON object');
  const o = body as Record<string, unknown>;
  const str = (k: string): string => {
    const v = o[k];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new PortRequestError(`${k} must be a string`);
    return v;
  };
  const int = (k: string): number => {
    const v = o[k];
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new PortRequestError(`${k} must be an integer`);
    return v;
  };
  const proto = str('proto');
  if (!isProto(proto)) throw new PortRequestError(`unknown proto: ${quoteValue(proto)}`);
  const parentIP = str('parentIP');
  if (parentIP !== '' && ipFamily(parentIP) === undefined) throw new PortRequestError(`invalid ParentIP: ${quoteValue(parentIP)}`);
  const childIP = str('childIP');
  if (childIP !== '' && ipFamily(childIP) === undefined) throw new PortRequestError(`invalid ChildIP: ${quoteValue(childIP)}`);
  const parentPort = int('parentPort');
  if (parentPort < 1 || parentPort > 65535) throw new PortRequestError(`invalid ParentPort: ${parentPort}`);
  const childPort = int('childPort');
  if (childPort < 1 || childPort > 65535) throw new PortRequestError(`invalid ChildPort: ${childPort}`);
  const spec: PortSpec = { proto, parentIP, parentPort, childPort };
  if (childIP !== '') spec.childIP = childIP;
  checkFamilies(spec, (reason) => new PortRequestError(reason));
  return spec;
}

/** Same proto and parent address: RootlessKit's conflict rule. */
export function findConflict(spec: PortSpec, existing: Iterable<PortStatus>): PortStatus | undefined {
  for (const p of existing) {
    if (p.spec.proto === spec.proto && p.spec.parentIP === spec.parentIP && p.spec.parentPort === spec.parentPort) return p;
  }
  return undefined;
}

/** The JSON RootlessKit sends for a spec: its field order, empty parentIP/childIP omitted. */
export function specJSON(s: PortSpec): Record<string, unknown> {
  const o: Record<string, unknown> = { proto: s.proto };
  if (s.parentIP !== '') o.parentIP = s.parentIP;
  o.parentPort = s.parentPort;
  o.childPort = s.childPort;
  if (s.childIP !== undefined && s.childIP !== '') o.childIP = s.childIP;
  return o;
}

/** One -p/--publish value and what it means; messages quote the value as given. */
export interface PublishFlag {
  value: string;
  spec: PortSpec;
}

/**
 * The -p/--publish values of `rootless run`: each parsed, none published
 * twice. Throws a one-line UsageError naming the flag and the spec.
 */
export function parsePublishFlags(values: readonly string[]): PublishFlag[] {
  const out: PortStatus[] = [];
  for (const v of values) {
    let spec: PortSpec;
    try {
      spec = parsePortSpec(v);
    } catch (err) {
      if (err instanceof PortSpecError) throw new UsageError(`--publish: ${err.message}`, { subject: v });
      throw err;
    }
    const twice = findConflict(spec, out);
    if (twice !== undefined) {
      throw new UsageError(`--publish ${quoteValue(v)}: ${spec.proto} ${parentAddress(spec)} is already published by ${quoteValue(values[twice.id])}`, { subject: v });
    }
    out.push({ id: out.length, spec });
  }
  return out.map((s) => ({ value: values[s.id] as string, spec: s.spec }));
}
