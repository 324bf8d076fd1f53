// Our own output to stderr (and stdout for --version). Written with
// write(2) on the fd, never through process.stderr: initializing that stream
// costs ~1 ms, and for a pipe it may switch the pipe, shared with the target,
// to non-blocking mode under the target's feet.
import { writeSync } from 'node:fs';

function writeAll(fd: number, text: string): void {
  const buf = Buffer.from(text);
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
