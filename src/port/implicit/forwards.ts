// --port-driver=implicit: pasta itself forwards the -p ports, given as its
// -t/-u options. Checked before anything starts (it is bad input).
import { UsageError } from '../../sys/errors.js';
import { baseProto, type PublishFlag } from '../spec.js';

/**
 * -p specs as pasta's -t/-u forwards ([ADDR/]PORT[:TARGET]), for
 * --port-driver=implicit. Throws UsageError for what pasta cannot do.
 */
export function pastaForwards(publish: readonly PublishFlag[]): { tcp: string[]; udp: string[] } {
  const tcp: string[] = [];
  const udp: string[] = [];
  for (const { value: raw, spec: s } of publish) {
    const proto = baseProto(s.proto);
    if (proto === 'sctp') throw new UsageError(`--publish ${JSON.stringify(raw)}: pasta does not forward sctp`, { subject: raw });
    if (s.childIP !== undefined && s.childIP !== '') {
      throw new UsageError(`--publish ${JSON.stringify(raw)}: pasta forwards to the namespace's own address, a child IP cannot be chosen with --port-driver=implicit`, { subject: raw });
    }
    const addr = s.parentIP === '' ? '' : `${s.parentIP}/`;
    (proto === 'tcp' ? tcp : udp).push(`${addr}${s.parentPort}:${s.childPort}`);
  }
  return { tcp, udp };
}


/**
 * pasta's inbound options for these -p specs; none: every port bound
 * inside, as RootlessKit's pasta does without them.
 */
export function pastaPortArgs(publish: readonly PublishFlag[]): string[] {
  const fw = pastaForwards(publish);
  if (fw.tcp.length + fw.udp.length === 0) return ['--tcp-ports', 'auto', '--udp-ports', 'auto'];
  return [
    ...(fw.tcp.length > 0 ? fw.tcp.flatMap((s) => ['--tcp-ports', s]) : ['--tcp-ports', 'none']),
    ...(fw.udp.length > 0 ? fw.udp.flatMap((s) => ['--udp-ports', s]) : ['--udp-ports', 'none']),
  ];
}
