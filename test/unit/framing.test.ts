import test from 'ava';
import { FrameDecoder, MAX_FRAME_BYTES, encodeFrame, showBytes } from '../../src/protocol/framing.js';
import { ProtocolError } from '../../src/sys/errors.js';
import type { Message } from '../../src/protocol/messages.js';

const hello: Message = { type: 'ChildHello', version: 1 };
const started: Message = { type: 'ChildTargetStarted', pid: 42 };
const exited: Message = { type: 'ChildTargetExited', code: 3, signal: null };

/** A frame with an arbitrary payload, bypassing encodeFrame's checks. */
function rawFrame(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

function decodeError(bytes: Buffer, peer: 'parent' | 'child' = 'child'): ProtocolError {
  const dec = new FrameDecoder(peer);
  const err = (() => {
    try {
      dec.push(bytes);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  if (!(err instanceof ProtocolError)) throw new Error(`expected a ProtocolError, got ${String(err)}`);
  return err;
}

test('round trip', (t) => {
  const frame = encodeFrame(hello);
  t.is(frame.readUInt32BE(0), frame.length - 4);
  t.deepEqual(JSON.parse(frame.subarray(4).toString('utf8')), hello);
  t.deepEqual(new FrameDecoder('child').push(frame), [hello]);
});

test('several frames in one chunk', (t) => {
  const dec = new FrameDecoder('child');
  t.deepEqual(dec.push(Buffer.concat([encodeFrame(hello), encodeFrame(started), encodeFrame(exited)])), [
    hello,
    started,
    exited,
  ]);
  t.is(dec.remainder().length, 0);
});

test('a frame split byte by byte', (t) => {
  const dec = new FrameDecoder('child');
  const frame = encodeFrame(started);
  const out: Message[] = [];
  for (let i = 0; i < frame.length; i++) {
    const got = dec.push(frame.subarray(i, i + 1));
    if (i < frame.length - 1) t.deepEqual(got, [], `nothing before the last byte (at ${i})`);
    out.push(...got);
  }
  t.deepEqual(out, [started]);
});

test('a frame split inside the length prefix, with the next frame in the same chunk', (t) => {
  const dec = new FrameDecoder('child');
  const bytes = Buffer.concat([encodeFrame(hello), encodeFrame(started)]);
  t.deepEqual(dec.push(bytes.subarray(0, 2)), []);
  t.is(dec.remainder().length, 2);
  const second = encodeFrame(hello).length + 3; // 3 bytes into the second prefix
  t.deepEqual(dec.push(bytes.subarray(2, second)), [hello]);
  t.deepEqual(dec.push(bytes.subarray(second)), [started]);
});

test('an empty chunk is harmless', (t) => {
  const dec = new FrameDecoder('child');
  t.deepEqual(dec.push(Buffer.alloc(0)), []);
  t.deepEqual(dec.push(encodeFrame(hello)), [hello]);
});

test('a length over MAX_FRAME_BYTES is rejected without waiting for the body', (t) => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
  const err = decodeError(header);
  t.is(err.step, 'protocol');
  t.regex(err.message, new RegExp(`${MAX_FRAME_BYTES + 1}`));
  t.regex(err.message, new RegExp(`${MAX_FRAME_BYTES}`));
  t.true(err.message.includes(showBytes(header)), err.message);
});

test('a frame of exactly MAX_FRAME_BYTES is accepted', (t) => {
  const overhead = JSON.stringify({ type: 'ChildLog', level: 'info', msg: '' }).length;
  const msg: Message = { type: 'ChildLog', level: 'info', msg: 'x'.repeat(MAX_FRAME_BYTES - overhead) };
  const frame = encodeFrame(msg);
  t.is(frame.length, MAX_FRAME_BYTES + 4);
  t.deepEqual(new FrameDecoder('child').push(frame), [msg]);
});

test('encodeFrame refuses a message over the limit', (t) => {
  const msg: Message = { type: 'ChildLog', level: 'info', msg: 'x'.repeat(MAX_FRAME_BYTES) };
  const err = t.throws(() => encodeFrame(msg), { instanceOf: ProtocolError });
  t.regex(err?.message ?? '', /ChildLog/);
});

test('garbage text shows the bytes, not a wait for 1.2 GB', (t) => {
  const err = decodeError(Buffer.from('Hello world\n'));
  t.is(0x48656c6c, 1214606444);
  t.regex(err.message, /^malformed message from child: /);
  t.true(err.message.includes('1214606444'), err.message);
  t.true(err.message.includes('"Hello world\\x0a"'), err.message);
  t.is(err.code, 'EPROTO');
});

test('garbage split before the length is complete is still caught at 4 bytes', (t) => {
  const dec = new FrameDecoder('parent');
  t.deepEqual(dec.push(Buffer.from('Hel')), []);
  const err = t.throws(() => dec.push(Buffer.from('lo world')), { instanceOf: ProtocolError });
  t.true(err?.message.includes('malformed message from parent'), err?.message);
  t.true(err?.message.includes('"Hello world"'), err?.message);
});

test('invalid JSON shows the payload with non-printable bytes escaped', (t) => {
  const err = decodeError(rawFrame(Buffer.from('hello\x00"\\\xff', 'latin1')));
  t.is(err.message, 'malformed message from child: not JSON: "hello\\x00\\"\\\\\\xff"');
});

test('a long payload is cut to 64 bytes in the message', (t) => {
  const err = decodeError(rawFrame('z'.repeat(200)));
  t.true(err.message.endsWith(`"${'z'.repeat(64)}"... (200 bytes)`), err.message);
});

test('a JSON array is not a message', (t) => {
  const err = decodeError(rawFrame('[{"type":"ChildHello"}]'));
  t.regex(err.message, /not an object: "\[\{\\"type\\":\\"ChildHello\\"\}\]"/);
});

test('JSON null and scalars are not messages', (t) => {
  t.regex(decodeError(rawFrame('null')).message, /not an object/);
  t.regex(decodeError(rawFrame('"ChildHello"')).message, /not an object/);
});

test('a missing or non-string type is rejected', (t) => {
  t.regex(decodeError(rawFrame('{"pid":1}')).message, /no string "type" field: "\{\\"pid\\":1\}"/);
  t.regex(decodeError(rawFrame('{"type":7}')).message, /no string "type" field/);
});

test('an unknown type is rejected and named', (t) => {
  const err = decodeError(rawFrame('{"type":"ChildHelo"}'));
  t.regex(err.message, /unknown message type "ChildHelo"/);
});

test('an empty frame is not JSON', (t) => {
  t.regex(decodeError(rawFrame('')).message, /not JSON: ""/);
});

test('unicode payload survives, also when split inside a character', (t) => {
  const msg: Message = { type: 'ChildLog', level: 'info', msg: 'héllo wörld ✓ 🐧' };
  const frame = encodeFrame(msg);
  t.is(frame.readUInt32BE(0), Buffer.byteLength(JSON.stringify(msg)));
  const cut = frame.indexOf(Buffer.from('🐧')) + 2;
  const dec = new FrameDecoder('child');
  t.deepEqual(dec.push(frame.subarray(0, cut)), []);
  t.deepEqual(dec.push(frame.subarray(cut)), [msg]);
});

test('poisoned after an error: every later push throws the same error', (t) => {
  const dec = new FrameDecoder('child');
  const err = t.throws(() => dec.push(Buffer.from('Hello world\n')), { instanceOf: ProtocolError });
  t.is(dec.error, err);
  t.is(t.throws(() => dec.push(encodeFrame(hello))), err);
  t.is(t.throws(() => dec.push(Buffer.alloc(0))), err);
});

test('messages before garbage in the same chunk are returned; the error follows', (t) => {
  const dec = new FrameDecoder('child');
  const childError: Message = { type: 'ChildError', message: 'mount failed', step: 'mount /proc', exitCode: 125 };
  const got = dec.push(Buffer.concat([encodeFrame(childError), Buffer.from('Segmentation fault\n')]));
  t.deepEqual(got, [childError]);
  const err = dec.error;
  t.true(err instanceof ProtocolError);
  t.regex(err?.message ?? '', /"Segmentation fault\\x0a"/);
  t.is(t.throws(() => dec.push(Buffer.alloc(0))), err as ProtocolError);
});

test('showBytes', (t) => {
  t.is(showBytes(Buffer.from('a\tb\r\n\x7f')), '"a\\x09b\\x0d\\x0a\\x7f"');
  t.is(showBytes(Buffer.from('')), '""');
});

test('the decoder copies what it keeps: a reused read buffer does not corrupt a pending frame (issue 9.1)', (t) => {
  // As the child's SyncChannel reads: one buffer, overwritten by each read.
  const big: Message = { type: 'ChildLog', level: 'info', msg: 'x'.repeat(200_000) };
  const stream = Buffer.concat([encodeFrame(big), encodeFrame(hello)]);
  const dec = new FrameDecoder('parent');
  const buf = Buffer.alloc(64 * 1024);
  const out: Message[] = [];
  // An odd read size puts a frame boundary (and a header) across reads.
  for (let off = 0; off < stream.length; off += 65_531) {
    const n = stream.copy(buf, 0, off, Math.min(off + 65_531, stream.length));
    out.push(...dec.push(buf.subarray(0, n)));
    buf.fill(0x78); // the next read overwrites the buffer
  }
  t.deepEqual(out, [big, hello]);
});

test('a header split across pushes from a reused buffer survives the overwrite', (t) => {
  const frame = encodeFrame(started);
  const dec = new FrameDecoder('parent');
  const buf = Buffer.alloc(256);
  frame.copy(buf, 0, 0, 2);
  t.deepEqual(dec.push(buf.subarray(0, 2)), []);
  buf.fill(0x78);
  const n = frame.copy(buf, 0, 2);
  t.deepEqual(dec.push(buf.subarray(0, n)), [started]);
});
