// Flags that parse but whose machinery is not built yet: refused up front
// with a clear error, instead of half-working (a network namespace with no
// network, a pid namespace without its /proc).
import { UsageError } from '../sys/errors.js';
import type { RunOptions } from '../cli/options.js';

export function rejectUnsupported(o: RunOptions): void {
  const bad: string[] = [];
  if (o.net !== 'host' && o.net !== 'none') bad.push(`--net=${o.net}`);
  if (o.portDriver !== 'none') bad.push(`--port-driver=${o.portDriver}`);
  if (o.publish.length > 0) bad.push('--publish');
  if (o.pidns) bad.push('--pidns');
  if (o.cgroupns) bad.push('--cgroupns');
  if (o.utsns) bad.push('--utsns');
  if (o.ipcns) bad.push('--ipcns');
  if (o.reaper === 'true') bad.push('--reaper=true');
  if (o.evacuateCgroup2 !== undefined) bad.push('--evacuate-cgroup2');
  if (o.copyUp.length > 0) bad.push('--copy-up');
  if (o.detachNetns) bad.push('--detach-netns');
  if (o.name !== undefined) bad.push('--name');
  if (bad.length > 0) {
    throw new UsageError(`${bad.join(', ')}: not implemented yet in this version of rootless`, {
      subject: bad.join(' '),
    });
  }
}
