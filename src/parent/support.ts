// Flags that parse but whose machinery is not built yet: refused up front
// with a clear error, instead of half-working (a network namespace with no
// network, a pid namespace without its /proc).
import { UsageError } from '../sys/errors.js';
import type { RunOptions } from '../cli/options.js';

export function rejectUnsupported(_o: RunOptions): void {
  const bad: string[] = [];
  if (bad.length > 0) {
    throw new UsageError(`${bad.join(', ')}: not implemented yet in this version of rootless`, {
      subject: bad.join(' '),
    });
  }
}
