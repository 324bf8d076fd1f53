// A typed, framed message channel over two byte streams (one per direction).
// Handshake code awaits messages one at a time with receive(); afterwards
// onMessage() switches to push mode. Every wait has a timeout and notices
// the peer's EOF, so a dead or babbling peer is an error, never a hang.

import { ProtocolError, RootlessError, TimeoutError } from '../sys/errors.js';
import { FrameDecoder, encodeFrame, showBytes } from './framing.js';
import type { ChildError, ChildLog, Message, MessageType } from './messages.js';

export interface ChannelOptions {
  /** The process at the other end, named in error messages. */
  peer: 'parent' | 'child';
  /** Receives every ChildLog message; without it they are dropped. */
  onLog?: (msg: ChildLog) => void;
}

/** How long a pending receive still waits for the peer's last words (a
 * ChildError, or EOF) after a write to it failed. */
const WRITE_ERROR_GRACE_MS = 100;

interface Pending {
  /** undefined: any message. */
  type: MessageType | undefined;
  what: string;
  resolve: (msg: Message) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  grace: ReturnType<typeof setTimeout> | undefined;
}

/** The child's failure, rebuilt on the parent's side with the same fields. */
export function errorFromChildError(msg: ChildError): RootlessError {
  // Fields come from another process: don't trust their types.
  const opt = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return new RootlessError(typeof msg.message === 'string' ? msg.message : 'child failed', {
    step: opt(msg.step) ?? 'child',
    code: opt(msg.code),
    subject: opt(msg.subject),
    hint: opt(msg.hint),
    exitCode: Number.isInteger(msg.exitCode) ? msg.exitCode : undefined,
  });
}

function errnoCode(err: Error, fallback: string): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : fallback;
}

function destroy(stream: object): void {
  const d = (stream as { destroy?: unknown }).destroy;
  if (typeof d === 'function') d.call(stream);
}

export class Channel {
  private readonly output: NodeJS.WritableStream;
  private readonly input: NodeJS.ReadableStream;
  private readonly peer: 'parent' | 'child';
  private readonly onLog: ((msg: ChildLog) => void) | undefined;
  private readonly decoder: FrameDecoder;
  private readonly queue: Message[] = [];
  private pending: Pending | undefined;
  private handler: ((msg: Message) => void) | undefined;
  private closeHandler: ((err: Error | undefined) => void) | undefined;
  private closeNotified = false;
  private closed = false;
  /** Input ended (EOF, read error or decode error). */
  private ended = false;
  /** Why the input ended, when not a clean EOF. */
  private endError: ProtocolError | undefined;
  /** Bytes of an incomplete frame left at EOF. */
  private leftover: Buffer | undefined;
  private writeError: ProtocolError | undefined;

  constructor(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, opts: ChannelOptions) {
    this.input = input;
    this.output = output;
    this.peer = opts.peer;
    this.onLog = opts.onLog;
    this.decoder = new FrameDecoder(opts.peer);
    input.on('data', (chunk: Buffer | string) => this.onData(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
    input.on('end', () => this.onEnd(undefined));
    // 'close' without 'end': the stream was destroyed under us.
    input.on('close', () => this.onEnd(undefined));
    input.on('error', (err: Error) =>
      this.onEnd(
        new ProtocolError(`cannot read from ${this.peer}: ${err.message}`, { code: errnoCode(err, 'EIO'), cause: err }),
      ),
    );
    // Without a listener, EPIPE from a dead peer would crash the process.
    output.on('error', (err: Error) => this.onWriteError(err));
  }

  /** Encodes and writes; a write failure surfaces on the next receive. */
  send(msg: Message): void {
    // Ignored after close(): late senders (signal forwarding) race shutdown.
    if (this.closed) return;
    this.output.write(encodeFrame(msg), (err?: Error | null) => {
      if (err) this.onWriteError(err);
    });
  }

  /** The next message, which must be of `type`; a ChildError rejects with the child's error. */
  receive<T extends MessageType>(type: T, what: string, timeoutMs: number): Promise<Extract<Message, { type: T }>> {
    return this.wait(type, what, timeoutMs) as Promise<Extract<Message, { type: T }>>;
  }

  /** The next message of any type (ChildLog excepted: it goes to onLog). */
  receiveAny(what: string, timeoutMs: number): Promise<Message> {
    return this.wait(undefined, what, timeoutMs);
  }

  /** Push mode: buffered messages now, in order, then every later one. */
  onMessage(handler: (msg: Message) => void): void {
    if (this.pending) throw new Error('Channel.onMessage: a receive is pending');
    this.handler = handler;
    for (let msg = this.queue.shift(); msg; msg = this.queue.shift()) handler(msg);
    this.notifyClose();
  }

  /** In push mode: EOF (err undefined), a read or decode error, once. Not called for close(). */
  onClose(handler: (err: Error | undefined) => void): void {
    this.closeHandler = handler;
    this.notifyClose();
  }

  /** Resolves once everything sent so far has reached the pipe (or it broke). */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.output.write(Buffer.alloc(0), () => resolve());
    });
  }

  /** Destroys both streams, cancels timers and rejects a pending receive. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    const p = this.take();
    if (p) p.reject(new ProtocolError(`channel to ${this.peer} closed while waiting for ${p.what}`, { code: 'ECANCELED' }));
    destroy(this.input);
    destroy(this.output);
  }

  private wait(type: MessageType | undefined, what: string, timeoutMs: number): Promise<Message> {
    if (this.pending) throw new Error(`Channel.receive(${what}): another receive is pending (${this.pending.what})`);
    if (this.handler) throw new Error(`Channel.receive(${what}): channel is in push mode`);
    return new Promise<Message>((resolve, reject) => {
      const p: Pending = { type, what, resolve, reject, timer: undefined, grace: undefined };
      const next = this.queue.shift();
      if (next) return this.settle(p, next);
      if (this.closed) return reject(new ProtocolError(`channel to ${this.peer} is closed`, { code: 'ECANCELED' }));
      if (this.ended) return reject(this.endReason(what));
      this.pending = p;
      p.timer = setTimeout(() => {
        this.take();
        reject(new TimeoutError(what, timeoutMs));
      }, timeoutMs);
      if (this.writeError) this.startGrace(p);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.ended) return;
    let msgs: Message[];
    try {
      msgs = this.decoder.push(chunk);
    } catch (err) {
      this.onEnd(err instanceof ProtocolError ? err : new ProtocolError(String(err), { cause: err }));
      return;
    }
    for (const msg of msgs) this.dispatch(msg);
    if (this.decoder.error) this.onEnd(this.decoder.error);
  }

  private dispatch(msg: Message): void {
    if (msg.type === 'ChildLog') {
      this.onLog?.(msg);
      return;
    }
    if (this.handler) {
      this.handler(msg);
      return;
    }
    const p = this.take();
    if (p) this.settle(p, msg);
    else this.queue.push(msg);
  }

  private settle(p: Pending, msg: Message): void {
    if (p.type === undefined || msg.type === p.type) p.resolve(msg);
    else if (msg.type === 'ChildError') p.reject(errorFromChildError(msg));
    else {
      p.reject(
        new ProtocolError(`unexpected message ${msg.type} from ${this.peer} while waiting for ${p.type}`, {
          code: 'EPROTO',
          subject: msg.type,
        }),
      );
    }
  }

  private onEnd(err: ProtocolError | undefined): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    this.endError = err;
    if (!err) {
      const rest = this.decoder.remainder();
      if (rest.length > 0) this.leftover = rest;
    }
    const p = this.take();
    if (p) p.reject(this.endReason(p.what));
    this.notifyClose();
  }

  private endReason(what: string): ProtocolError {
    if (this.endError) return this.endError;
    const partial = this.leftover ? `; it left an incomplete frame: ${showBytes(this.leftover)}` : '';
    return new ProtocolError(`${this.peer} exited or closed the pipe while waiting for ${what}${partial}`, {
      code: 'EPIPE',
      cause: this.writeError,
    });
  }

  private onWriteError(err: Error): void {
    if (this.closed || this.writeError) return;
    this.writeError = new ProtocolError(`cannot write to ${this.peer}: ${err.message}`, {
      code: errnoCode(err, 'EPIPE'),
      cause: err,
    });
    if (this.pending) this.startGrace(this.pending);
  }

  /** A failed write usually means the peer died: give its last message or
   * EOF, likely already in the pipe, a moment to arrive first. */
  private startGrace(p: Pending): void {
    if (p.grace) return;
    p.grace = setTimeout(() => {
      this.take();
      p.reject(this.writeError as ProtocolError);
    }, WRITE_ERROR_GRACE_MS);
  }

  /** Detach the pending receive and clear its timers. */
  private take(): Pending | undefined {
    const p = this.pending;
    if (!p) return undefined;
    this.pending = undefined;
    clearTimeout(p.timer);
    clearTimeout(p.grace);
    return p;
  }

  private notifyClose(): void {
    if (!this.ended || !this.handler || !this.closeHandler || this.closeNotified || this.closed) return;
    this.closeNotified = true;
    // A clean EOF after a failed write is still a failure worth reporting.
    this.closeHandler(this.endError ?? (this.leftover ? this.endReason('more messages') : this.writeError));
  }
}
