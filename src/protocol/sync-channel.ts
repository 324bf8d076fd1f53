// The child's end of the protocol, synchronous. During the handshake the
// child has nothing else to do, and a blocking read costs 0.3 ms where a
// stream over a pipe (net or fs, with libuv's threadpool) costs ~3 ms to
// deliver its first byte: on the critical path of every start. Each wait
// still has a deadline (poll) and notices the parent's death (EOF).
import { readSync, writeSync } from 'node:fs';
import { ProtocolError, TimeoutError } from '../sys/errors.js';
import { FrameDecoder, encodeFrame } from './framing.js';
import type { Message, MessageType } from './messages.js';

export type WaitReadable = (fd: number, timeoutMs: number) => boolean;

export class SyncChannel {
  private readonly decoder: FrameDecoder;
  private readonly queue: Message[] = [];
  private readonly buf = Buffer.allocUnsafe(64 * 1024);

  constructor(
    private readonly inFd: number,
    private readonly outFd: number,
    private readonly peer: 'parent' | 'child',
    private readonly waitReadable: WaitReadable,
  ) {
    this.decoder = new FrameDecoder(peer);
  }

  send(msg: Message): void {
    const frame = encodeFrame(msg);
    let off = 0;
    while (off < frame.length) off += writeSync(this.outFd, frame, off, frame.length - off);
  }

  receive<T extends MessageType>(type: T, what: string, timeoutMs: number): Extract<Message, { type: T }> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0 || !this.waitReadable(this.inFd, left)) throw new TimeoutError(what, timeoutMs);
      const n = readSync(this.inFd, this.buf, 0, this.buf.length, null);
      if (n === 0) {
        throw new ProtocolError(`${this.peer} exited or closed the pipe while waiting for ${what}`, { code: 'EPIPE' });
      }
      this.queue.push(...this.decoder.push(this.buf.subarray(0, n)));
    }
    const msg = this.queue.shift()!;
    if (msg.type !== type) {
      throw new ProtocolError(`unexpected message ${msg.type} from ${this.peer} while waiting for ${what}`, { code: 'EPROTO' });
    }
    return msg as Extract<Message, { type: T }>;
  }
}
