// `rootless info [--json] [--socket PATH | --state-dir DIR]`: what a running
// session is (GET /v1/info on its api.sock).
import { writeStdout } from '../sys/stderr.js';
import { quoteValue } from '../sys/errors.js';
import { ApiClient, resolveSocket, type ApiInfo } from '../api/client.js';
import { columns, parseArgs } from './api-args.js';

export const INFO_USAGE = `Usage: rootless info [--json] [--socket PATH | --state-dir DIR]

Show a running session: state directory, child pid, network and port
drivers (GET /v1/info on its api.sock). Inside a session, the session is
found through $ROOTLESSKIT_STATE_DIR.

  --socket PATH     the session's api.sock
  --state-dir DIR   the session's state directory (DIR/api.sock)
  --json            print the API's JSON
  -h, --help        show this help
`;

export function formatInfo(info: ApiInfo): string {
  const rows: string[][] = [
    ['State directory:', info.stateDir],
    ['Child PID:', String(info.childPID)],
  ];
  const n = info.networkDriver;
  if (n !== undefined) {
    const extra = [n.childIP ? `child IP ${n.childIP}` : '', n.dns && n.dns.length > 0 ? `DNS ${n.dns.join(', ')}` : ''].filter(Boolean);
    rows.push(['Network driver:', `${n.driver}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}`]);
  } else {
    rows.push(['Network driver:', 'host']);
  }
  const p = info.portDriver;
  rows.push(['Port driver:', p === undefined ? 'none' : `${p.driver} (${p.protos.join(', ')})`]);
  if (p?.sourceIPTransparent !== undefined) {
    rows.push(['Client addresses:', p.sourceIPTransparent ? 'kept (--source-ip-transparent)' : 'the loopback address']);
  }
  rows.push(['API version:', `${info.apiVersion} (${info.version})`]);
  return columns(rows);
}

export async function infoMain(argv: readonly string[]): Promise<number> {
  const a = parseArgs(argv, ['socket', 'state-dir'], ['json', 'help'], 'rootless info', { h: 'help' });
  if (a.flags.has('help')) {
    writeStdout(INFO_USAGE);
    return 0;
  }
  if (a.positionals.length > 0) {
    const { UsageError } = await import('../sys/errors.js');
    throw new UsageError(`rootless info: unexpected argument ${quoteValue(a.positionals[0])}`);
  }
  const client = new ApiClient(resolveSocket({ socket: a.values.get('socket'), stateDir: a.values.get('state-dir') }));
  const info = await client.info();
  writeStdout(a.flags.has('json') ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
  return 0;
}
