// The child has no logger of its own: records go to the parent as ChildLog
// messages, so the child loads nothing for logging and the user sees one
// stream, formatted once.
import type { Message } from '../protocol/messages.js';
import { levelEnabled, type EmittingLevel, type LogFields, type LogLevel, type Logger, type RecordLevel } from '../sys/log.js';

export class ChildLogger implements Logger {
  constructor(
    private readonly channel: { send(msg: Message): void },
    readonly level: LogLevel,
  ) {}

  enabled(level: EmittingLevel): boolean {
    return levelEnabled(this.level, level);
  }

  private emit(level: RecordLevel, a: string | LogFields, msg?: string): void {
    if (!this.enabled(level)) return;
    if (typeof a === 'string') this.channel.send({ type: 'ChildLog', level, msg: a });
    else this.channel.send({ type: 'ChildLog', level, msg: msg ?? '', fields: a });
  }

  trace(a: string | LogFields, msg?: string): void {
    this.emit('trace', a, msg);
  }
  debug(a: string | LogFields, msg?: string): void {
    this.emit('debug', a, msg);
  }
  info(a: string | LogFields, msg?: string): void {
    this.emit('info', a, msg);
  }
  warn(a: string | LogFields, msg?: string): void {
    this.emit('warn', a, msg);
  }
  error(a: string | LogFields, msg?: string): void {
    this.emit('error', a, msg);
  }
}
