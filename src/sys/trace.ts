// Startup tracing for bench/startup: with ROOTLESS_TRACE_STARTUP=1 the
// parent and the child print "rootless-trace <who> <mark> <epoch ms>" to
// stderr, on one clock, so their timelines can be merged.
import { writeStderr } from './stderr.js';

export const TRACE_ENV = 'ROOTLESS_TRACE_STARTUP';

const enabled = process.env[TRACE_ENV] === '1';

export function traceEnabled(): boolean {
  return enabled;
}

export function mark(who: 'parent' | 'child', name: string): void {
  if (!enabled) return;
  writeStderr(`rootless-trace ${who} ${name} ${(performance.timeOrigin + performance.now()).toFixed(2)}\n`);
}
