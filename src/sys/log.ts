// The one logger interface of the project, and its levels (pino's). The
// parent's implementation is src/cli/log.ts (pino, lazily loaded); the
// child's is src/child/log.ts (records sent to the parent as ChildLog).
// Both take (fields, msg) or (msg), pino's order.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
/** A level a record can have. */
export type EmittingLevel = Exclude<LogLevel, 'silent'>;

/** A level Logger has a method for (fatal is the threshold above error only). */
export type RecordLevel = Exclude<EmittingLevel, 'fatal'>;

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** --log-format: text lines (the default) or pino's JSON records. */
export type LogFormat = 'text' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/** pino's numeric levels. */
export const LEVEL_RANK: Readonly<Record<LogLevel, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  enabled(level: EmittingLevel): boolean;
  trace(msgOrFields: string | LogFields, msg?: string): void;
  debug(msgOrFields: string | LogFields, msg?: string): void;
  info(msgOrFields: string | LogFields, msg?: string): void;
  warn(msgOrFields: string | LogFields, msg?: string): void;
  error(msgOrFields: string | LogFields, msg?: string): void;
}

/** Whether a logger at `threshold` emits a record at `level`. */
export function levelEnabled(threshold: LogLevel, level: EmittingLevel): boolean {
  return LEVEL_RANK[level] >= LEVEL_RANK[threshold];
}
