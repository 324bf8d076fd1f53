// The launcher's logger: pino, writing to stderr only (stdout belongs to
// the target). JSON lines when stderr is not a terminal; one readable line
// per record on a terminal. pino is loaded on the first record that passes
// the level: a quiet run (the common case) never pays its ~15 ms load.
import { writeStderr } from '../sys/stderr.js';
import { createRequire } from 'node:module';
import type { Logger as PinoLogger, LevelWithSilent } from 'pino';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
type Emitting = Exclude<LogLevel, 'silent'>;

const RANK: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const LABEL: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export interface Logger {
  readonly level: LogLevel;
  enabled(level: Emitting): boolean;
  trace(msgOrFields: string | Record<string, unknown>, msg?: string): void;
  debug(msgOrFields: string | Record<string, unknown>, msg?: string): void;
  info(msgOrFields: string | Record<string, unknown>, msg?: string): void;
  warn(msgOrFields: string | Record<string, unknown>, msg?: string): void;
  error(msgOrFields: string | Record<string, unknown>, msg?: string): void;
}

/** Formats pino's JSON records as "rootless: warn: message (key=value ...)". */
export function humanLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, msg, time: _t, pid: _p, hostname: _h, name, ...rest } = rec;
  const who = typeof name === 'string' ? name : 'rootless';
  const label = LABEL[level as number] ?? String(level);
  const extras = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${who}: ${label}: ${String(msg ?? '')}${extras ? ` (${extras})` : ''}\n`;
}

export function createLogger(level: LogLevel, opts: { human?: boolean } = {}): Logger {
  const human = opts.human ?? process.stderr.isTTY === true;
  let pino: PinoLogger | undefined;
  const load = (): PinoLogger => {
    if (pino) return pino;
    const require = createRequire(import.meta.url);
    const pinoFn = require('pino') as typeof import('pino').default;
    const dest = human
      ? { write: (line: string) => writeStderr(humanLine(line)) }
      : pinoFn.destination({ fd: 2, sync: true });
    pino = pinoFn({ level: level as LevelWithSilent, base: { pid: process.pid }, name: 'rootless' }, dest);
    return pino;
  };
  const at =
    (lvl: Emitting) =>
    (a: string | Record<string, unknown>, msg?: string): void => {
      if (RANK[lvl] < RANK[level]) return;
      if (typeof a === 'string') load()[lvl](a);
      else load()[lvl](a, msg);
    };
  return {
    level,
    enabled: (lvl) => RANK[lvl] >= RANK[level],
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}
