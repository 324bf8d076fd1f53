// The child has no logger of its own: records go to the parent as ChildLog
// messages, so the child loads nothing for logging and the user sees one
// stream, formatted once.
import type { Message } from '../protocol/messages.js';
import type { ChildLogLevel } from './config.js';

const RANK: Record<ChildLogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: 100 };

export class ChildLogger {
  private readonly min: number;
  constructor(
    private readonly channel: { send(msg: Message): void },
    level: ChildLogLevel,
  ) {
    this.min = RANK[level];
  }

  enabled(level: Exclude<ChildLogLevel, 'silent'>): boolean {
    return RANK[level] >= this.min;
  }

  private emit(level: Exclude<ChildLogLevel, 'silent'>, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    this.channel.send({ type: 'ChildLog', level, msg, ...(fields ? { fields } : {}) });
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.emit('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.emit('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.emit('warn', msg, fields);
  }
}
