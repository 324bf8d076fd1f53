// The native child's process (addon/spawn.cc spawnGated), without new
// namespaces: it waits for its exec plan on the gate, reports "ready" and
// execs the program (the report pipe's EOF), or reports the step that
// failed. The launcher's use of it, in new namespaces, is in
// test/e2e/light.test.ts.
import test from 'ava';
import { readSync, writeSync } from 'node:fs';
import { close, decodeChildReport, execPayload, pipe2, pollFd, spawnGated, type ChildReport, type ExitStatus } from '../../src/sys/native.js';

interface Outcome {
  reports: ChildReport[];
  status: ExitStatus;
  stdout: string;
}

/** Reads fd (non-blocking) to EOF, waiting with poll. */
function readToEof(fd: number): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (;;) {
    if (!pollFd(fd, false, 10_000)) throw new Error('no EOF within 10 s');
    let n: number;
    try {
      n = readSync(fd, buf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw err;
    }
    if (n === 0) return Buffer.concat(chunks);
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
}

async function runGated(plan: Parameters<typeof execPayload>[0]): Promise<Outcome> {
  const [outR, outW] = pipe2();
  let onExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((res) => (onExit = res));
  const spawned = spawnGated({ fds: [0, outW, 2], clearCaps: false }, (_e, s) => onExit(s));
  close(outW);
  const payload = execPayload(plan);
  for (let off = 0; off < payload.length; ) off += writeSync(spawned.gateFd, payload, off);
  close(spawned.gateFd);
  const raw = readToEof(spawned.reportFd);
  close(spawned.reportFd);
  const reports: ChildReport[] = [];
  for (let i = 0; i + 8 <= raw.length; i += 8) reports.push(decodeChildReport(raw.subarray(i, i + 8)));
  const status = await exited;
  const stdout = readToEof(outR).toString('utf8');
  close(outR);
  return { reports, status, stdout };
}

test('the gated process execs its program once the plan arrives: argv, environment and cwd as sent, PATH searched', async (t) => {
  const r = await runGated({
    file: 'sh',
    argv: ['sh', '-c', 'echo "$0|$X|$(pwd)"', 'zero'],
    envp: ['X=a b', 'PATH=/nonexistent:/usr/bin:/bin'],
    cwd: '/tmp',
    searchPath: '/nonexistent:/usr/bin:/bin',
  });
  t.deepEqual(r.reports, [{ ready: true }]);
  t.is(r.stdout, 'zero|a b|/tmp\n');
  t.deepEqual([r.status.code, r.status.signal], [0, null]);
});

test('a program that is not found or not runnable is reported as execve with its errno, not exec\'d', async (t) => {
  const missing = await runGated({ file: 'no-such-program-rootless', argv: ['x'], envp: [], searchPath: '/usr/bin:/bin' });
  t.deepEqual(missing.reports, [{ ready: true }, { ready: false, step: 'execve', code: 'ENOENT', errno: 2 }]);
  t.not(missing.status.code, 0);
  const dir = await runGated({ file: '/tmp', argv: ['x'], envp: [] });
  t.like(dir.reports[1], { ready: false, step: 'execve', code: 'EACCES' });
  const cwd = await runGated({ file: '/bin/true', argv: ['true'], envp: [], cwd: '/no/such/dir' });
  t.like(cwd.reports[1], { ready: false, step: 'chdir', code: 'ENOENT' });
});

test('LISTEN_PID is the program\'s own pid', async (t) => {
  const r = await runGated({ file: '/bin/sh', argv: ['sh', '-c', 'echo "$LISTEN_PID $$"'], envp: ['A=1'], listenPidEnv: true });
  const [listenPid, pid] = r.stdout.trim().split(' ');
  t.is(listenPid, pid);
});

test('a closed gate (the launcher gave up) ends the process without exec', async (t) => {
  let onExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((res) => (onExit = res));
  const spawned = spawnGated({ fds: [0, 1, 2] }, (_e, s) => onExit(s));
  close(spawned.gateFd);
  t.is(readToEof(spawned.reportFd).length, 0, 'no report');
  close(spawned.reportFd);
  t.deepEqual([(await exited).code], [125]);
});
