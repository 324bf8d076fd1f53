// --port-driver=implicit: pasta itself forwards the -p ports, given as its
// -t/-u options. Checked before anything starts (it is bad input).
import { UsageError } from '../../sys/errors.js';
import { baseProto, parsePortSpec } from '../../port/spec.js';

/**
 * -p specs as pasta's -t/-u forwards ([ADDR/]PORT[:TARGET]), for
 * --port-driver=implicit. Throws UsageError for what pasta cannot do.
 */
export function pastaForwards(publish: string[]): { tcp: string[]; udp: string[] } {
  const tcp: string[] = [];
  const udp: string[] = [];
  for (const raw of publish) {
    const s = parsePortSpec(raw);
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

