import test from 'ava';
import { spawn } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { Channel, errorFromChildError } from '../../src/protocol/channel.js';
import { FrameDecoder, encodeFrame } from '../../src/protocol/framing.js';
import { ProtocolError, RootlessError, TimeoutError } from '../../src/sys/errors.js';
import type { ChildLog, Message } from '../../src/protocol/messages.js';

const hello: Message = { type: 'ChildHello', version: 1 };
const userns: Message = { type: 'ChildInitUserNSCompleted', reexecs: 0 };
const started: Message = { type: 'ChildTargetStarted', pid: 42 };
const exited: Message = { type: 'ChildTargetExited', code: 0, signal: null };
const log: ChildLog = { type: 'ChildLog', level: 'debug', msg: 'mounting /proc' };
const childError: Message = {
  type: 'ChildError',
  message: 'mount /proc: EPERM',
  step: 'mount /proc',
  code: 'EPERM',
  subject: '/proc',
  hint: 'try --pidns',
  exitCode: 125,
};

function setup(onLog?: (msg: ChildLog) => void) {
  const fromChild = new PassThrough();
  const toChild = new PassThrough();
  const ch = new Channel(fromChild, toChild, { peer: 'child', ...(onLog ? { onLog } : {}) });
  return { ch, fromChild, toChild };
}

const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

// Serial tests run before concurrent ones, so no other test's timers interfere.
test.serial('a settled receive leaves no timer behind', async (t) => {
  const { ch, fromChild } = setup();
  const before = timeouts();
  const p = ch.receive('ChildHello', 'ChildHello', 60_000);
  t.is(timeouts(), before + 1);
  fromChild.write(encodeFrame(hello));
  await p;
  t.is(timeouts(), before);
  const q = ch.receive('ChildTargetStarted', 'target start', 60_000);
  fromChild.end();
  await t.throwsAsync(q, { instanceOf: ProtocolError });
  t.is(timeouts(), before);
});

test('receive returns messages in order, including ones queued before the call', async (t) => {
  const { ch, fromChild } = setup();
  fromChild.write(Buffer.concat([encodeFrame(hello), encodeFrame(userns)]));
  await tick();
  t.deepEqual(await ch.receive('ChildHello', 'hello', 1000), hello);
  t.deepEqual(await ch.receive('ChildInitUserNSCompleted', 'userns', 1000), userns);
  const p = ch.receive('ChildTargetStarted', 'target start', 1000);
  fromChild.write(encodeFrame(started));
  const msg = await p;
  t.is(msg.pid, 42); // typed as ChildTargetStarted
});

test('receiveAny returns whatever comes next', async (t) => {
  const { ch, fromChild } = setup();
  fromChild.write(encodeFrame(exited));
  t.deepEqual(await ch.receiveAny('target', 1000), exited);
});

test('a message of another type rejects the receive', async (t) => {
  const { ch, fromChild } = setup();
  fromChild.write(encodeFrame(started));
  const err = await t.throwsAsync(ch.receive('ChildHello', 'hello', 1000), { instanceOf: ProtocolError });
  t.is(err?.message, 'unexpected message ChildTargetStarted from child while waiting for ChildHello');
  t.is(err?.step, 'protocol');
});

test('ChildLog goes to onLog and does not disturb receive', async (t) => {
  const logs: ChildLog[] = [];
  const { ch, fromChild } = setup((m) => logs.push(m));
  fromChild.write(Buffer.concat([encodeFrame(log), encodeFrame(hello), encodeFrame(log)]));
  t.deepEqual(await ch.receive('ChildHello', 'hello', 1000), hello);
  const p = ch.receive('ChildInitUserNSCompleted', 'userns', 1000);
  fromChild.write(Buffer.concat([encodeFrame(log), encodeFrame(userns)]));
  t.deepEqual(await p, userns);
  t.deepEqual(logs, [log, log, log]);
});

test('ChildLog without onLog is dropped, not an unexpected message', async (t) => {
  const { ch, fromChild } = setup();
  fromChild.write(Buffer.concat([encodeFrame(log), encodeFrame(hello)]));
  t.deepEqual(await ch.receive('ChildHello', 'hello', 1000), hello);
});

test('ChildError rejects a wait for something else with its fields', async (t) => {
  const { ch, fromChild } = setup();
  const p = ch.receive('ChildInitUserNSCompleted', 'user namespace setup', 1000);
  fromChild.write(encodeFrame(childError));
  const err = await t.throwsAsync(p, { instanceOf: RootlessError });
  t.like(err, {
    message: 'mount /proc: EPERM',
    step: 'mount /proc',
    code: 'EPERM',
    subject: '/proc',
    hint: 'try --pidns',
    exitCode: 125,
  });
  t.false(err instanceof ProtocolError);
});

test('ChildError is returned when it is what receive or receiveAny waits for', async (t) => {
  const { ch, fromChild } = setup();
  fromChild.write(Buffer.concat([encodeFrame(childError), encodeFrame(childError)]));
  t.deepEqual(await ch.receive('ChildError', 'error', 1000), childError);
  t.deepEqual(await ch.receiveAny('anything', 1000), childError);
});

test('errorFromChildError copies the fields and tolerates bad ones', (t) => {
  const err = errorFromChildError({ type: 'ChildError', message: 'boom', step: 'exec', exitCode: 127 });
  t.like(err, { message: 'boom', step: 'exec', exitCode: 127, code: undefined });
  t.is(err.oneLine(), 'boom');
  const bad = JSON.parse('{"type":"ChildError","message":"x","step":5,"exitCode":"1"}') as Parameters<
    typeof errorFromChildError
  >[0];
  t.like(errorFromChildError(bad), { step: 'child', exitCode: 125 });
});

test('EOF while waiting rejects with EPIPE and the what text', async (t) => {
  const { ch, fromChild } = setup();
  const p = ch.receive('ChildHello', 'the child to start', 1000);
  fromChild.end();
  const err = await t.throwsAsync(p, { instanceOf: ProtocolError });
  t.is(err?.message, 'child exited or closed the pipe while waiting for the child to start');
  t.is(err?.code, 'EPIPE');
});

test('EOF before receive: queued messages first, then EPIPE', async (t) => {
  const { ch, fromChild } = setup();
  fromChild.end(encodeFrame(hello));
  await tick();
  t.deepEqual(await ch.receive('ChildHello', 'hello', 1000), hello);
  const err = await t.throwsAsync(ch.receive('ChildTargetExited', 'target exit', 1000), { instanceOf: ProtocolError });
  t.is(err?.code, 'EPIPE');
  t.regex(err?.message ?? '', /while waiting for target exit$/);
});

test('EOF in the middle of a frame shows the leftover bytes', async (t) => {
  const { ch, fromChild } = setup();
  fromChild.end(Buffer.from('hi\n'));
  const err = await t.throwsAsync(ch.receive('ChildHello', 'hello', 1000), { instanceOf: ProtocolError });
  t.is(err?.code, 'EPIPE');
  t.true(err?.message.includes('"hi\\x0a"'), err?.message);
});

test('a destroyed input counts as EOF', async (t) => {
  const { ch, fromChild } = setup();
  const p = ch.receive('ChildHello', 'hello', 1000);
  fromChild.destroy();
  t.is((await t.throwsAsync(p, { instanceOf: ProtocolError }))?.code, 'EPIPE');
});

test('a read error rejects with its code', async (t) => {
  const { ch, fromChild } = setup();
  const p = ch.receive('ChildHello', 'hello', 1000);
  fromChild.destroy(Object.assign(new Error('read EIO'), { code: 'EIO' }));
  const err = await t.throwsAsync(p, { instanceOf: ProtocolError });
  t.is(err?.code, 'EIO');
  t.regex(err?.message ?? '', /cannot read from child: read EIO/);
});

test('garbage rejects the receive with the decode error showing the bytes', async (t) => {
  const { ch, fromChild } = setup();
  const p = ch.receive('ChildHello', 'hello', 1000);
  fromChild.write('Hello world\n');
  const err = await t.throwsAsync(p, { instanceOf: ProtocolError });
  t.regex(err?.message ?? '', /^malformed message from child: .*"Hello world\\x0a"$/);
  // Poisoned: later receives get the same error, not a timeout.
  t.is(await t.throwsAsync(ch.receive('ChildHello', 'hello', 1000)), err);
});

test('a message before garbage is still delivered', async (t) => {
  const { ch, fromChild } = setup();
  fromChild.write(Buffer.concat([encodeFrame(childError), Buffer.from('panic: oops\n')]));
  const err = await t.throwsAsync(ch.receive('ChildHello', 'hello', 1000));
  t.is(err?.message, 'mount /proc: EPERM');
  const next = await t.throwsAsync(ch.receive('ChildHello', 'hello', 1000), { instanceOf: ProtocolError });
  t.regex(next?.message ?? '', /"panic: oops\\x0a"/);
});

test('timeout rejects with TimeoutError', async (t) => {
  const { ch } = setup();
  const start = Date.now();
  const err = await t.throwsAsync(ch.receive('ChildHello', 'ChildHello', 50), { instanceOf: TimeoutError });
  t.true(Date.now() - start >= 45);
  t.is(err?.message, 'timed out after 50 ms waiting for ChildHello');
  t.is(err?.code, 'ETIMEDOUT');
});

test('a message after a timeout is kept for the next receive', async (t) => {
  const { ch, fromChild } = setup();
  await t.throwsAsync(ch.receive('ChildHello', 'hello', 20), { instanceOf: TimeoutError });
  fromChild.write(encodeFrame(hello));
  t.deepEqual(await ch.receive('ChildHello', 'hello', 1000), hello);
});

test('only one receive may be pending', async (t) => {
  const { ch, fromChild } = setup();
  const p = ch.receive('ChildHello', 'hello', 1000);
  t.throws(() => ch.receiveAny('other', 1000), { message: /another receive is pending/ });
  fromChild.write(encodeFrame(hello));
  t.deepEqual(await p, hello);
});

test('push mode delivers buffered messages in order, then later ones', async (t) => {
  const logs: ChildLog[] = [];
  const { ch, fromChild } = setup((m) => logs.push(m));
  fromChild.write(Buffer.concat([encodeFrame(hello), encodeFrame(log), encodeFrame(started)]));
  await tick();
  const got: Message[] = [];
  ch.onMessage((m) => got.push(m));
  t.deepEqual(got, [hello, started]);
  fromChild.write(encodeFrame(exited));
  await tick();
  t.deepEqual(got, [hello, started, exited]);
  t.deepEqual(logs, [log]);
  t.throws(() => ch.receiveAny('x', 1000), { message: /push mode/ });
});

test('push mode: EOF calls onClose without an error, once', async (t) => {
  const { ch, fromChild } = setup();
  const got: Message[] = [];
  const closes: (Error | undefined)[] = [];
  ch.onMessage((m) => got.push(m));
  ch.onClose((e) => closes.push(e));
  fromChild.end(encodeFrame(exited));
  await tick(10);
  t.deepEqual(got, [exited]);
  t.deepEqual(closes, [undefined]);
});

test('push mode: onClose registered after EOF still fires, after the buffered messages', async (t) => {
  const { ch, fromChild } = setup();
  fromChild.end(encodeFrame(exited));
  await tick(10);
  const events: string[] = [];
  ch.onClose((e) => events.push(`close ${String(e)}`));
  t.deepEqual(events, [], 'not before push mode');
  ch.onMessage((m) => events.push(m.type));
  t.deepEqual(events, ['ChildTargetExited', 'close undefined']);
});

test('push mode: garbage goes to onClose as a ProtocolError', async (t) => {
  const { ch, fromChild } = setup();
  const closes: (Error | undefined)[] = [];
  ch.onMessage(() => t.fail('no message expected'));
  ch.onClose((e) => closes.push(e));
  fromChild.write('Hello world\n');
  await tick();
  t.is(closes.length, 1);
  t.true(closes[0] instanceof ProtocolError);
  t.regex(closes[0]?.message ?? '', /Hello world/);
});

test('send produces a decodable frame', async (t) => {
  const { ch, toChild } = setup();
  const msg: Message = { type: 'ParentInitNetworkDriverCompleted', network: { driver: 'none' } };
  ch.send(msg);
  ch.send({ type: 'ParentInitIdmapCompleted' });
  await tick();
  const chunk = toChild.read() as Buffer;
  t.deepEqual(new FrameDecoder('parent').push(chunk), [msg, { type: 'ParentInitIdmapCompleted' }]);
});

test('a write error surfaces on the next receive', async (t) => {
  const fromChild = new PassThrough();
  const broken = new Writable({
    write(_chunk, _enc, cb) {
      cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  const ch = new Channel(fromChild, broken, { peer: 'child' });
  ch.send({ type: 'ParentInitIdmapCompleted' });
  await tick();
  const err = await t.throwsAsync(ch.receive('ChildInitUserNSCompleted', 'userns', 5000), { instanceOf: ProtocolError });
  t.is(err?.message, 'cannot write to child: write EPIPE');
  t.is(err?.code, 'EPIPE');
});

test('after a write error, a ChildError already on its way wins', async (t) => {
  const fromChild = new PassThrough();
  const broken = new Writable({
    write(_chunk, _enc, cb) {
      cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  const ch = new Channel(fromChild, broken, { peer: 'child' });
  ch.send({ type: 'ParentInitIdmapCompleted' });
  const p = ch.receive('ChildInitUserNSCompleted', 'userns', 5000);
  await tick();
  fromChild.end(encodeFrame(childError));
  const err = await t.throwsAsync(p);
  t.is(err?.message, 'mount /proc: EPERM');
});

test('close rejects a pending receive and destroys both streams', async (t) => {
  const { ch, fromChild, toChild } = setup();
  const p = ch.receive('ChildHello', 'hello', 60_000);
  ch.close();
  const err = await t.throwsAsync(p, { instanceOf: ProtocolError });
  t.regex(err?.message ?? '', /closed while waiting for hello/);
  t.true(fromChild.destroyed);
  t.true(toChild.destroyed);
  await t.throwsAsync(ch.receive('ChildHello', 'hello', 1000), { message: /closed/ });
  t.notThrows(() => ch.send(hello));
});

test('a real pipe: a child process writes a frame and exits', async (t) => {
  const code = `
    const body = Buffer.from(JSON.stringify({ type: 'ChildHello', version: 1 }));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    process.stdout.write(Buffer.concat([head, body]));
  `;
  const proc = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ch = new Channel(proc.stdout, proc.stdin, { peer: 'child' });
  t.deepEqual(await ch.receive('ChildHello', 'ChildHello', 10_000), hello);
  const err = await t.throwsAsync(ch.receive('ChildInitUserNSCompleted', 'the user namespace', 10_000), {
    instanceOf: ProtocolError,
  });
  t.is(err?.code, 'EPIPE');
  t.is(err?.message, 'child exited or closed the pipe while waiting for the user namespace');
  ch.close();
});

test('a real pipe: a program printing text is reported with its bytes', async (t) => {
  const proc = spawn(process.execPath, ['-e', 'console.log("Hello world")'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const ch = new Channel(proc.stdout, proc.stdin, { peer: 'child' });
  const err = await t.throwsAsync(ch.receive('ChildHello', 'ChildHello', 10_000), { instanceOf: ProtocolError });
  t.true(err?.message.includes('"Hello world\\x0a"'), err?.message);
  ch.close();
});
