// Length-prefixed JSON frames: a 4-byte big-endian length N, then N bytes of
// UTF-8 JSON holding one object with a known string `type`. Loaded by the
// child at startup, so it imports nothing from node beyond the Buffer global.
// The decoder copies whatever it keeps past a push: callers (the child's
// synchronous channel) reuse one read buffer.

import { ProtocolError } from '../sys/errors.js';
import { MESSAGE_TYPES } from './messages.js';
import type { Message } from './messages.js';

/** ParentHello carries the target's argv and environment: up to 6 MiB for
 * execve (min(RLIMIT_STACK/4, 6 MiB)), and JSON may write a control byte as
 * 6 (\u0001). 64 MiB holds that; garbage text still reads as a length of
 * hundreds of megabytes (any printable first byte is >= 0x20 << 24). */
export const MAX_FRAME_BYTES = 64 << 20;

const HEADER_BYTES = 4;
const EXCERPT_BYTES = 64;

export function encodeFrame(msg: Message): Buffer {
  const json = JSON.stringify(msg);
  const length = Buffer.byteLength(json, 'utf8');
  // Fail at the sender, where the stack says who built the message.
  if (length > MAX_FRAME_BYTES) {
    throw new ProtocolError(
      `message ${msg.type} is ${length} bytes, over the frame limit of ${MAX_FRAME_BYTES} bytes`,
      { code: 'EMSGSIZE', subject: msg.type },
    );
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
  frame.writeUInt32BE(length, 0);
  frame.write(json, HEADER_BYTES, 'utf8');
  return frame;
}

/**
 * A quoted, printable excerpt of raw bytes (first 64; others as \xNN), so a
 * log shows what actually arrived on the pipe.
 */
export function showBytes(bytes: Uint8Array): string {
  const n = Math.min(bytes.length, EXCERPT_BYTES);
  let s = '"';
  for (let i = 0; i < n; i++) {
    const b = bytes[i] as number;
    if (b === 0x22 || b === 0x5c) s += '\\' + String.fromCharCode(b);
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\x' + b.toString(16).padStart(2, '0');
  }
  s += '"';
  return bytes.length > n ? `${s}... (${bytes.length} bytes)` : s;
}

export class FrameDecoder {
  private readonly peer: 'parent' | 'child';
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes needed before parsing can progress: avoids re-concatenating on every small read. */
  private need = HEADER_BYTES;
  private failure: ProtocolError | undefined;

  /** `peer` names the sender, for error messages. */
  constructor(peer: 'parent' | 'child') {
    this.peer = peer;
  }

  /** The error that poisoned this decoder, if any. */
  get error(): ProtocolError | undefined {
    return this.failure;
  }

  /**
   * Feed bytes; returns the messages completed by them, in order.
   * Throws ProtocolError on malformed input. If valid messages precede the
   * bad frame in the same chunk they are returned (they arrived first and
   * may explain the garbage, e.g. a ChildError), and the error is left in
   * `error` and thrown by every later push.
   */
  push(chunk: Buffer): Message[] {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    if (this.size < this.need) {
      // Kept past this call: a copy, the caller may reuse its buffer.
      if (chunk.length > 0) this.chunks[this.chunks.length - 1] = Buffer.from(chunk);
      return [];
    }

    const buf = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size);
    const out: Message[] = [];
    let off = 0;
    try {
      for (;;) {
        const avail = buf.length - off;
        if (avail < HEADER_BYTES) {
          this.need = HEADER_BYTES;
          break;
        }
        const length = buf.readUInt32BE(off);
        // Checked before waiting for the body: text written to the pipe by
        // mistake reads as a length of hundreds of megabytes.
        if (length > MAX_FRAME_BYTES) {
          throw this.malformed(
            `frame length ${length} exceeds the limit of ${MAX_FRAME_BYTES} bytes (garbage on the pipe?)`,
            buf.subarray(off),
          );
        }
        if (avail < HEADER_BYTES + length) {
          this.need = HEADER_BYTES + length;
          break;
        }
        out.push(this.parse(buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + length)));
        off += HEADER_BYTES + length;
      }
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      this.failure = err;
      this.chunks = [];
      this.size = 0;
      if (out.length === 0) throw err;
      return out;
    }
    // A copy: `buf` may be the caller's buffer.
    const rest = off < buf.length ? Buffer.from(buf.subarray(off)) : undefined;
    this.chunks = rest ? [rest] : [];
    this.size = rest?.length ?? 0;
    return out;
  }

  /** Bytes of an incomplete frame still buffered (to show them at EOF). */
  remainder(): Buffer {
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size);
  }

  private parse(payload: Buffer): Message {
    let value: unknown;
    try {
      value = JSON.parse(payload.toString('utf8'));
    } catch {
      throw this.malformed('not JSON', payload);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw this.malformed('not an object', payload);
    }
    const type: unknown = (value as { type?: unknown }).type;
    if (typeof type !== 'string') throw this.malformed('no string "type" field', payload);
    if (!MESSAGE_TYPES.has(type)) throw this.malformed(`unknown message type ${JSON.stringify(type)}`, payload);
    return value as Message;
  }

  private malformed(why: string, bytes: Uint8Array): ProtocolError {
    return new ProtocolError(`malformed message from ${this.peer}: ${why}: ${showBytes(bytes)}`, {
      code: 'EPROTO',
    });
  }
}
