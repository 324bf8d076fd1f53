// A driver program (slirp4netns, pasta) as a child of the parent: started
// through the addon (clone + execve, every fd but the listed ones closed,
// PDEATHSIG so it cannot outlive a parent that is SIGKILLed), its output
// relayed to the log (never to our stdout, which is the target's), its exit
// noticed through its pidfd, and its readiness read from a pipe.
import { closeSync, openSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Logger } from '../sys/log.js';
import { RootlessError } from '../sys/errors.js';
import { close, pipe2, spawn, type ExitStatus } from '../sys/native.js';
import { pidfdSignaller } from '../sys/process.js';
import { signalName, signalNumber } from '../sys/signals.js';

const TAIL_LINES = 20;

export interface DriverProcess {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  /** Resolves once its output pipe is closed (everything it wrote is logged). */
  readonly outputClosed: Promise<void>;
  /** The last lines it wrote. */
  lastLines(): string[];
  signal(sig: number): boolean;
  /** Stop reading its output (it may keep running). */
  detachOutput(): void;
}

export interface DriverSpawnOptions {
  name: string;
  file: string;
  argv: string[];
  /** fds placed at 3, 4, ... in the driver; the caller keeps and closes its own. */
  extraFds: number[];
  /** Namespaces (fds of ours) to enter before execve. */
  setns?: { fd: number; nstype: number }[];
  log: Logger;
}

export function spawnDriver(o: DriverSpawnOptions): DriverProcess {
  const [outR, outW] = pipe2();
  const devnull = openSync('/dev/null', 'r');
  let onExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((res) => (onExit = res));
  let spawned;
  try {
    spawned = spawn(
      {
        file: o.file,
        argv: o.argv,
        // The driver needs nothing of the user's environment.
        envp: [`PATH=${process.env.PATH ?? '/usr/bin:/bin'}`],
        fds: [devnull, outW, outW, ...o.extraFds],
        pdeathsig: signalNumber('SIGKILL'),
        ...(o.setns ? { setns: o.setns } : {}),
      },
      (_err, status) => onExit(status),
    );
  } catch (err) {
    close(outR);
    throw new RootlessError(`cannot start ${o.name} (${o.file}): ${(err as Error).message}`, {
      step: 'network driver', subject: o.file, cause: err, ...((err as RootlessError).code ? { code: (err as RootlessError).code } : {}),
    });
  } finally {
    closeSync(devnull);
    close(outW);
  }
  o.log.debug({ driver: o.name, driverPid: spawned.pid, argv: o.argv }, 'network driver started');

  const tail: string[] = [];
  let partial = '';
  const out = new Socket({ fd: outR, readable: true, writable: false });
  out.setEncoding('utf8');
  const keep = (line: string): void => {
    // pasta without a syslog socket says so for every line it logs.
    if (line.trim() === '' || /^Failed to send \d+ bytes to syslog$/.test(line)) return;
    o.log.debug({ driver: o.name }, line);
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  out.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    lines.forEach(keep);
  });
  out.on('error', () => {});
  const outputClosed = new Promise<void>((res) => out.once('close', () => {
    if (partial !== '') keep(partial);
    partial = '';
    res();
  }));

  const signal = pidfdSignaller(spawned.pidfd, exited);
  return {
    name: o.name,
    pid: spawned.pid,
    exited,
    outputClosed,
    lastLines: () => [...tail],
    signal,
    detachOutput: () => {
      out.destroy();
    },
  };
}

export function describeExit(s: ExitStatus): string {
  return s.signal !== null ? `was killed by ${signalName(s.signal)}` : `exited with code ${s.code}`;
}

// What drivers print that says nothing about why they stopped: warnings,
// slirp4netns's banner and fd hand-over, and its "child failed(1)".
const NOISE = /^(WARNING|\* |Starting slirp|sent tapfd|received tapfd|(child|parent) failed)/;

/** The last thing the driver said that explains its end, for a one-line error. */
async function lastWords(p: DriverProcess): Promise<string> {
  // Its output may still be in the pipe when its exit is reported.
  await Promise.race([p.outputClosed, new Promise((r) => setTimeout(r, 250))]);
  const all = p.lastLines().map((l) => l.trim());
  const last = all.filter((l) => !NOISE.test(l)).at(-1) ?? all.at(-1);
  return last === undefined ? '' : `: ${last}`;
}

/**
 * Resolves with the first bytes the driver writes on its ready pipe (`fd`,
 * ours, closed here). Rejects when it exits or closes the pipe first, or
 * after `timeoutMs`. No polling: the pipe and the pidfd wake us.
 */
export function waitReady(p: DriverProcess, fd: number, timeoutMs: number): Promise<string> {
  const ready = new Socket({ fd, readable: true, writable: false });
  ready.setEncoding('utf8');
  return new Promise<string>((resolve, reject) => {
    let got = '';
    let settled = false;
    const finish = (err: RootlessError | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ready.destroy();
      if (err) reject(err);
      else resolve(got);
    };
    const failed = (why: string): void => {
      settled = true;
      clearTimeout(timer);
      ready.destroy();
      void lastWords(p).then((words) =>
        reject(new RootlessError(`${p.name} ${why} before the network was ready${words}`, { step: 'network driver', subject: String(p.pid) })),
      );
    };
    const timer = setTimeout(() => {
      if (settled) return;
      failed(`did not report ready within ${timeoutMs} ms`);
    }, timeoutMs);
    ready.on('data', (d: string) => {
      got += d;
      finish(undefined);
    });
    ready.on('error', () => {});
    ready.on('end', () => {
      if (!settled) void p.exited.then((s) => !settled && failed(describeExit(s)));
    });
    void p.exited.then((s) => {
      // Readiness may be in the pipe already: let the data event win.
      setImmediate(() => !settled && failed(describeExit(s)));
    });
  });
}

/** The error that ends a session whose driver died. */
export async function diedDuringSession(p: DriverProcess, s: ExitStatus): Promise<RootlessError> {
  return new RootlessError(
    // What it said last explains an exit; after a signal it is noise.
    `${p.name} (pid ${p.pid}) ${describeExit(s)} during the session${s.signal === null ? await lastWords(p) : ''}; the session has no network, so it ends`,
    { step: 'network driver', subject: String(p.pid) },
  );
}

/** Stops a driver: `polite` first (e.g. closing its exit fd), SIGKILL after `graceMs`. */
export async function stopDriver(p: DriverProcess, polite: () => void, graceMs: number): Promise<void> {
  polite();
  const timer = setTimeout(() => p.signal(signalNumber('SIGKILL')), graceMs);
  await p.exited;
  clearTimeout(timer);
  p.detachOutput();
}
