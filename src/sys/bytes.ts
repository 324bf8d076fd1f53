// Argv elements, environment entries and paths are bytes in Linux, not text:
// they are carried as Buffers (never decoded) from the caller to the target,
// and as base64 where they cross JSON (protocol/config.ts, the session record).
// Environment entries are kept as the kernel gives them: "NAME=value", where
// NAME is any bytes but '=' (not only shell identifiers), or an entry
// without '=' at all.

const EQ = 0x3d;

/** The entries of a NUL-terminated list (/proc/PID/cmdline, /proc/PID/environ). */
export function splitNul(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (let i = buf.indexOf(0); i >= 0; i = buf.indexOf(0, from)) {
    out.push(buf.subarray(from, i));
    from = i + 1;
  }
  if (from < buf.length) out.push(buf.subarray(from));
  return out;
}

/** NAME of "NAME=value"; undefined for an entry without '='. */
export function envName(entry: Uint8Array): Buffer | undefined {
  const b = Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength);
  const eq = b.indexOf(EQ);
  return eq < 0 ? undefined : b.subarray(0, eq);
}

function isNamed(entry: Buffer, name: Buffer): boolean {
  return entry.length > name.length && entry[name.length] === EQ && entry.subarray(0, name.length).equals(name);
}

/** The value of the first `name=` entry. */
export function envGet(env: readonly Buffer[], name: string): Buffer | undefined {
  const n = Buffer.from(name);
  const e = env.find((x) => isNamed(x, n));
  return e?.subarray(n.length + 1);
}

/** `name=value` in the place of the first entry of that name (others removed), else at the end. */
export function envSet(env: readonly Buffer[], name: string, value: string | Buffer): Buffer[] {
  const n = Buffer.from(name);
  const entry = Buffer.concat([n, Buffer.from('='), Buffer.from(value)]);
  const out: Buffer[] = [];
  let placed = false;
  for (const e of env) {
    if (!isNamed(e, n)) out.push(e);
    else if (!placed) {
      out.push(entry);
      placed = true;
    }
  }
  if (!placed) out.push(entry);
  return out;
}

export function envDelete(env: readonly Buffer[], ...names: string[]): Buffer[] {
  const ns = names.map((n) => Buffer.from(n));
  return env.filter((e) => !ns.some((n) => isNamed(e, n)));
}

/**
 * The environment a Go program (RootlessKit) passes on: empty entries
 * dropped, and of entries with the same NAME the first kept (Go's
 * syscall.Environ); entries without '=' stay, in their place.
 */
export function goEnviron(env: readonly Buffer[]): Buffer[] {
  const seen = new Set<string>();
  const out: Buffer[] = [];
  for (const e of env) {
    if (e.length === 0) continue;
    const name = envName(e);
    if (name !== undefined) {
      const key = name.toString('latin1');
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(e);
  }
  return out;
}

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

export function fromBase64(s: string): Buffer {
  return Buffer.from(s, 'base64');
}

/** For messages: the bytes as UTF-8 where they are, U+FFFD where not. */
export function shown(b: Uint8Array | string): string {
  return typeof b === 'string' ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
}
