// s.spawn(): a ChildProcess-like handle on a command in a session. The
// caller's stdio goes to the agent as fds over a connection of its own
// (protocol.ts): 'inherit' hands over our 0/1/2, a number or a stream with
// an fd hands over that fd, 'pipe' a pipe whose other end we keep; with
// tty, a terminal we open (addon/pty.cc) is all three, and a thread of the
// addon relays its master to a socket that is stdin and stdout here.
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { RootlessError } from '../sys/errors.js';
import { close, connectUnix, pipe2, ptyOpen, ptyRelay, ptyResize, sendFds } from '../sys/native.js';
import type { SpawnEvent, SpawnRequest, StdioSource } from './protocol.js';

/** Like child_process: 'pipe' (default), 'inherit', 'ignore', an fd, or a stream that has one (fs streams, sockets). */
export type SessionStdio = 'pipe' | 'inherit' | 'ignore' | number | { fd: number } | Socket | null | undefined;

export interface SessionSpawnOptions {
  /** Working directory inside the session (default: the session's). */
  cwd?: string;
  /** Added to the session's environment. */
  env?: Record<string, string>;
  /** One for all three, or [stdin, stdout, stderr]. Not with tty. */
  stdio?: SessionStdio | [SessionStdio, SessionStdio, SessionStdio];
  /**
   * A terminal (default 80x24) as the command's stdin, stdout and stderr,
   * and its controlling terminal in a session of its own: p.stdin writes
   * what a user would type (Ctrl-C is '\x03', end of input Ctrl-D '\x04'),
   * p.stdout reads what the terminal shows (stderr included; p.stderr is
   * null), p.resize() changes the size.
   */
  tty?: boolean | { cols?: number; rows?: number };
}

const DEFAULT_SIZE = { cols: 80, rows: 24 };

function fdOf(s: object): number | undefined {
  const direct = (s as { fd?: unknown }).fd;
  if (typeof direct === 'number' && direct >= 0) return direct;
  const handle = (s as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof handle === 'number' && handle >= 0 ? handle : undefined;
}

interface Plan {
  sources: [StdioSource, StdioSource, StdioSource];
  /** With tty: the master (for resize) and our end of the relay's socket. */
  tty?: { master: number; sock: number };
  /** Sent with the request, in stdio order. */
  send: number[];
  /** Ours to close once sent (the command's ends of our pipes). */
  closeAfter: number[];
  /** Our ends of the pipes, by stdio index. */
  ours: (number | undefined)[];
}

/** A terminal's size: integers from 1 to 65535 (winsize's fields); `where` prefixes the name in the error. */
function checkSize(size: { cols: number; rows: number }, where: string): void {
  for (const [k, v] of Object.entries(size)) {
    if (!Number.isInteger(v) || v < 1 || v > 65535) throw new TypeError(`rootless: ${where}${k} must be an integer from 1 to 65535, not ${String(v)}`);
  }
}

function ttyPlan(tty: true | { cols?: number; rows?: number }): Plan {
  const given: { cols?: number; rows?: number } = tty === true ? {} : tty;
  const size = { cols: given.cols ?? DEFAULT_SIZE.cols, rows: given.rows ?? DEFAULT_SIZE.rows };
  checkSize(size, 'tty.');
  const { master, terminal } = ptyOpen(size.cols, size.rows);
  let sock: number;
  try {
    sock = ptyRelay(master);
  } catch (err) {
    close(master);
    close(terminal);
    throw err;
  }
  return { sources: ['fd', 'fd', 'fd'], send: [terminal, terminal, terminal], closeAfter: [terminal], ours: [undefined, undefined, undefined], tty: { master, sock } };
}

function plan(stdio: SessionSpawnOptions['stdio']): Plan {
  const list = Array.isArray(stdio) ? stdio : [stdio, stdio, stdio];
  if (list.length !== 3) throw new TypeError('rootless: stdio must have three entries (stdin, stdout, stderr)');
  const p: Plan = { sources: ['null', 'null', 'null'], send: [], closeAfter: [], ours: [undefined, undefined, undefined] };
  try {
    list.forEach((s, i) => {
      if (s === 'ignore') return;
      p.sources[i] = 'fd';
      if (s === undefined || s === null || s === 'pipe') {
        const [r, w] = pipe2();
        const [theirs, mine] = i === 0 ? [r, w] : [w, r];
        p.ours[i] = mine;
        p.closeAfter.push(theirs);
        p.send.push(theirs);
      } else if (s === 'inherit') {
        p.send.push(i);
      } else if (typeof s === 'number' && Number.isInteger(s) && s >= 0) {
        p.send.push(s);
      } else {
        const fd = typeof s === 'object' ? fdOf(s) : undefined;
        if (fd === undefined) throw new TypeError(`rootless: stdio[${i}] must be 'pipe', 'inherit', 'ignore', an fd or a stream with one, not ${String(s)}`);
        p.send.push(fd);
      }
    });
  } catch (err) {
    for (const fd of [...p.closeAfter, ...p.ours]) if (fd !== undefined) close(fd);
    throw err;
  }
  return p;
}

export class SessionProcess extends EventEmitter {
  /** Known from the 'spawn' event on. */
  pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdio: [Writable | null, Readable | null, Readable | null];
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  readonly spawnargs: string[];
  /** Resolves after 'exit' (or the failure to start). */
  readonly exited: Promise<void>;
  private readonly conn: Socket;
  private finished = false;
  private closesNeeded = 1;
  /** The terminal's master with tty (closed at 'close'). */
  private master: number | undefined;
  private readonly tty: boolean;

  /** Throws RootlessError when the session cannot be reached. */
  constructor(socketPath: string, argv: string[], options: SessionSpawnOptions) {
    super();
    this.spawnargs = [...argv];
    if (options.tty && options.stdio !== undefined) throw new TypeError('rootless: stdio and tty exclude each other (the terminal is all three)');
    const p = options.tty ? ttyPlan(options.tty) : plan(options.stdio);
    const req: SpawnRequest = {
      op: 'spawn',
      argv,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
      stdio: p.sources,
      ...(p.tty ? { tty: true } : {}),
    };
    let sock: number;
    try {
      sock = connectUnix(socketPath);
      try {
        sendFds(sock, Buffer.from(`${JSON.stringify(req)}\n`), p.send);
      } catch (err) {
        close(sock);
        throw err;
      }
    } catch (err) {
      for (const fd of [...p.closeAfter, ...p.ours, p.tty?.master, p.tty?.sock]) if (fd !== undefined) close(fd);
      const code = (err as { code?: string }).code ?? 'EIO';
      throw new RootlessError(`the session is gone: ${code}`, { step: 'session spawn', code, subject: socketPath, cause: err });
    } finally {
      // Sent: the agent holds them now, and the command after it.
      for (const fd of p.closeAfter) close(fd);
    }
    const wrap = (i: number): Socket | null => {
      const fd = p.ours[i];
      if (fd === undefined) return null;
      const s = new Socket({ fd, readable: i !== 0, writable: i === 0 });
      this.closesNeeded++;
      s.once('close', () => this.maybeClose());
      if (i === 0) s.on('error', () => {}); // EPIPE once the command is gone, as child_process
      return s;
    };
    if (p.tty) {
      // One socket both ways: the terminal's input and what it shows.
      const s = new Socket({ fd: p.tty.sock, readable: true, writable: true });
      this.closesNeeded++;
      s.once('close', () => {
        // With the relay's copy, the last master: closing it hangs the
        // terminal up (SIGHUP), as closing a terminal window does, when
        // the socket was destroyed while the command ran.
        if (this.master !== undefined) close(this.master);
        this.master = undefined;
        this.maybeClose();
      });
      s.on('error', () => {}); // EPIPE: written after the terminal closed
      this.master = p.tty.master;
      this.tty = true;
      this.stdin = s;
      this.stdout = s;
      this.stderr = null;
    } else {
      this.stdin = wrap(0);
      this.stdout = wrap(1);
      this.stderr = wrap(2);
      this.tty = false;
    }
    this.stdio = [this.stdin, this.stdout, this.stderr];
    let markExited!: () => void;
    this.exited = new Promise((res) => (markExited = res));
    this.conn = new Socket({ fd: sock, readable: true, writable: true });
    this.conn.on('error', () => {});
    this.conn.setEncoding('utf8');
    let buf = '';
    this.conn.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let ev: SpawnEvent;
        try {
          ev = JSON.parse(line) as SpawnEvent;
        } catch {
          continue; // not the agent's: ignored
        }
        this.onEvent(ev, markExited);
      }
    });
    // Without an exit record the agent died, and its commands with it (PDEATHSIG SIGKILL).
    this.conn.on('close', () => {
      if (!this.finished) this.onEvent({ exit: { code: null, signal: 'SIGKILL' } }, markExited);
      this.maybeClose();
    });
  }

  private onEvent(ev: SpawnEvent, markExited: () => void): void {
    if ('started' in ev) {
      this.pid = ev.started;
      this.emit('spawn');
      return;
    }
    if (this.finished) return;
    this.finished = true;
    if ('exit' in ev) {
      this.exitCode = ev.exit.code;
      this.signalCode = ev.exit.signal;
      // As child_process: nothing more can be written to a command that is
      // gone. A terminal's socket also carries the output still on its way.
      if (!this.tty) this.stdin?.destroy();
      markExited();
      this.emit('exit', this.exitCode, this.signalCode);
      return;
    }
    // Not started: as child_process, 'error' then 'close'; the code a shell would give.
    const { message, code } = 'refused' in ev ? ev.refused : ev.error;
    this.exitCode = 'refused' in ev ? ev.refused.exitCode : 125;
    for (const s of new Set(this.stdio)) s?.destroy();
    markExited();
    const err = Object.assign(new Error(`spawn ${this.spawnargs[0]}: ${message}`), { code, path: this.spawnargs[0], spawnargs: this.spawnargs.slice(1) });
    this.emit('error', err);
  }

  private maybeClose(): void {
    if (--this.closesNeeded > 0) return;
    this.emit('close', this.exitCode, this.signalCode);
  }

  /** Sends a signal to the command (SIGTERM by default); false once it has exited. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (!Object.hasOwn(constants.signals, signal)) throw new TypeError(`rootless: unknown signal ${String(signal)}`);
    if (this.finished || this.conn.destroyed) return false;
    this.conn.write(`${JSON.stringify({ kill: signal })}\n`);
    this.killed = true;
    return true;
  }

  /** With tty: the terminal's new size (the command gets SIGWINCH); false once closed. */
  resize(cols: number, rows: number): boolean {
    checkSize({ cols, rows }, 'resize(): ');
    if (this.master === undefined) {
      if (!this.tty) throw new TypeError('rootless: resize() is for a command spawned with tty');
      return false;
    }
    ptyResize(this.master, cols, rows);
    return true;
  }

  /** The handle keeps Node running until the command exits, unless unref()'d. */
  ref(): void {
    this.conn.ref();
  }

  unref(): void {
    this.conn.unref();
  }
}
