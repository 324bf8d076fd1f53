// Our own output to stderr (and stdout for --version). Written with
// write(2) on the fd, never through process.stderr: initializing that stream
// costs ~1 ms, and for a pipe it may switch the pipe, shared with the target,
// to non-blocking mode under the target's feet.
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { isatty } from 'node:tty';

function writeAll(fd: number, text: string | Buffer): void {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  let off = 0;
  let spins = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      // Someone else made the fd non-blocking; a brief retry is enough for
      // a line of text. Give up rather than hang on a stuck reader.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++spins > 1000) return;
    }
  }
}

export function writeStderr(text: string): void {
  writeAll(2, text);
}

export function writeStdout(text: string): void {
  writeAll(1, text);
}

/**
 * Replace process.stdout/stderr with writers on the raw fds. Node opens its
 * own stream lazily (net.Socket's destroy compares itself with
 * process.stderr, which opens it), and for a pipe that switches the file
 * description, shared with the target, to O_NONBLOCK: the target's large
 * writes then fail with EAGAIN. Call first thing in a launcher process.
 */
export function keepStdioBlocking(): void {
  for (const [name, fd] of [['stdout', 1], ['stderr', 2]] as const) {
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb): void {
        writeAll(fd, chunk);
        cb();
      },
    });
    Object.assign(stream, { fd, isTTY: isatty(fd) });
    Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => stream });
  }
}
