// The launcher's logger, writing to stderr only (stdout belongs to the
// target). Two forms:
//  - text (the default, wherever stderr goes: terminal, pipe, journal, CI
//    log): one line per record, `rootless: warning: message (key=value ...)`.
//  - json (--log-format=json): one pino JSON record per line.
// Text lines are formatted here without pino; pino is loaded on the first
// JSON record that passes the level, so a quiet run never pays its ~15 ms.
import { writeStderr } from '../sys/stderr.js';
import { createRequire } from 'node:module';
import type { Logger as PinoLogger, LevelWithSilent } from 'pino';
import { levelEnabled, type EmittingLevel as Emitting, type LogFormat, type LogLevel, type Logger, type RecordLevel } from '../sys/log.js';

export type { LogFormat, LogLevel, Logger } from '../sys/log.js';
/** What a text line calls each level. */
const TEXT_LABEL: Record<Emitting, string> = { trace: 'trace', debug: 'debug', info: 'info', warn: 'warning', error: 'error', fatal: 'error' };

/**
 * Keys every JSON record has at its top level. A field of the same name
 * (e.g. a driver's "pid") would repeat the key in one object, which JSON
 * parsers resolve differently; such a field is renamed "field_<key>".
 */
const RESERVED = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg']);

export function safeFields(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(fields)) {
    if (!RESERVED.has(key)) continue;
    out ??= { ...fields };
    delete out[key];
    out[`field_${key}`] = fields[key];
  }
  return out ?? fields;
}

function fieldText(v: unknown): string {
  // Objects and arrays as compact JSON (already one token); strings quoted
  // only when they would not read back as one.
  if (typeof v !== 'string') return JSON.stringify(v) ?? String(v);
  return v === '' || /[\s"=()]/.test(v) ? JSON.stringify(v) : v;
}

/** One text record: "rootless: warning: message (key=value ...)\n". */
export function textLine(level: Emitting, msg: string, fields: Record<string, unknown> = {}): string {
  const extras = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${fieldText(v)}`)
    .join(' ');
  // One record, one line: a message never breaks the line structure.
  const text = msg.replace(/\r?\n/g, ' ');
  return `rootless: ${TEXT_LABEL[level]}: ${text}${extras ? ` (${extras})` : ''}\n`;
}

export interface LoggerOptions {
  /** Default 'text'. */
  format?: LogFormat;
  /** Where text lines go; default stderr (write(2) on fd 2). */
  write?: (text: string) => void;
}

export function createLogger(level: LogLevel, opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? 'text';
  const write = opts.write ?? writeStderr;
  let pino: PinoLogger | undefined;
  const loadPino = (): PinoLogger => {
    if (pino) return pino;
    const require = createRequire(import.meta.url);
    const pinoFn = require('pino') as typeof import('pino').default;
    const dest = opts.write ? { write: opts.write } : pinoFn.destination({ fd: 2, sync: true });
    pino = pinoFn({ level: level as LevelWithSilent, base: { pid: process.pid }, name: 'rootless' }, dest);
    return pino;
  };
  const at =
    (lvl: RecordLevel) =>
    (a: string | Record<string, unknown>, msg?: string): void => {
      if (!levelEnabled(level, lvl)) return;
      const fields = typeof a === 'string' ? {} : a;
      const text = typeof a === 'string' ? a : (msg ?? '');
      if (format === 'text') write(textLine(lvl, text, fields));
      else loadPino()[lvl](safeFields(fields), text);
    };
  return {
    level,
    enabled: (lvl) => levelEnabled(level, lvl),
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}
