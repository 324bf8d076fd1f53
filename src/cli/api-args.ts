// Argument parsing shared by `rootless info`, `rootless ports` and
// `rootless ctl`: small and strict (these commands take a handful of
// flags; commander's features are not needed).
import { UsageError, quoteValue } from '../sys/errors.js';
import { didYouMean } from './suggest.js';

export interface ParsedArgs {
  values: Map<string, string>;
  flags: Set<string>;
  positionals: string[];
}

/**
 * `valued`: flags taking a value (--socket PATH or --socket=PATH);
 * `booleans`: flags without. Short aliases map to long names. A bare `--`
 * ends the flags.
 */
export function parseArgs(
  argv: readonly string[],
  valued: readonly string[],
  booleans: readonly string[],
  prefix: string,
  aliases: Record<string, string> = {},
): ParsedArgs {
  const out: ParsedArgs = { values: new Map(), flags: new Set(), positionals: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    let name = (eq >= 0 ? a.slice(0, eq) : a).replace(/^--?/, '');
    name = aliases[name] ?? name;
    if (valued.includes(name)) {
      let v: string | undefined = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${prefix}: --${name}: missing value`);
      out.values.set(name, v);
    } else if (booleans.includes(name)) {
      if (eq >= 0) {
        const v = a.slice(eq + 1);
        if (v === 'true') out.flags.add(name);
        else if (v !== 'false') throw new UsageError(`${prefix}: --${name}: invalid value ${quoteValue(v)} (true or false)`);
      } else {
        out.flags.add(name);
      }
    } else {
      throw new UsageError(`${prefix}: unknown flag ${a.slice(0, eq >= 0 ? eq : undefined)}${didYouMean(name, [...valued, ...booleans], '--')}`, { subject: a });
    }
  }
  return out;
}

/**
 * The state dir a command addresses: a SESSION name (-> its directory), or
 * --state-dir as given (undefined: --socket or $ROOTLESSKIT_STATE_DIR).
 * A name together with --state-dir or --socket is refused.
 */
export async function sessionOrStateDir(
  command: string,
  session: string | undefined,
  stateDir: string | undefined,
  socket: string | undefined,
): Promise<string | undefined> {
  if (session === undefined) return stateDir;
  if (stateDir !== undefined || socket !== undefined) {
    throw new UsageError(`${command}: give a session name, --state-dir or --socket, not several`, { subject: session });
  }
  const { namedSessionDir } = await import('./session-arg.js');
  return namedSessionDir(command, session);
}

/** Left-aligned columns separated by two spaces, no trailing blanks. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/**
 * Go's text/tabwriter as rootlessctl uses it (minwidth 4, tabwidth 8,
 * padding 4, padchar ' ', flags 0), for rows whose every cell ends with a
 * tab: each column as wide as its widest cell plus 4.
 */
export function goTabwriter(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, Math.max(c.length + 4, 4))));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('') + '\n').join('');
}
