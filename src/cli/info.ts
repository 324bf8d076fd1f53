// `rootless info [--json] [SESSION | --socket PATH | --state-dir DIR]`: what a running
// session is (GET /v1/info on its api.sock).
import { writeStdout } from '../sys/stderr.js';
import { UsageError, quoteValue } from '../sys/errors.js';
import { ApiClient, resolveSocket, type ApiInfo } from '../api/client.js';
import { columns, parseArgs, sessionOrStateDir } from './api-args.js';

export const INFO_USAGE = `Usage: rootless info [--json] [SESSION | --socket PATH | --state-dir DIR]

Show a running session: state directory, child pid, network and port
drivers (GET /v1/info on its api.sock). Inside a session, the session is
found through $ROOTLESSKIT_STATE_DIR.

  SESSION           a session started with \`rootless run --name SESSION\`
  --socket PATH     the session's api.sock
  --state-dir DIR   the session's state directory (DIR/api.sock)
  --json            print the API's JSON
  -h, --help        show this help

Examples:
  rootless info web                      # the session started with --name web
  rootless info --json --state-dir /run/user/1000/dockerd-rootless
  rootless run --net=slirp4netns -- sh -c 'rootless info'   # inside a session
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
  if (a.positionals.length > 1) {
    throw new UsageError(`rootless info: unexpected argument ${quoteValue(a.positionals[1]!)}`, { subject: a.positionals[1]! });
  }
  const stateDir = await sessionOrStateDir('rootless info', a.positionals[0], a.values.get('state-dir'), a.values.get('socket'));
  const client = new ApiClient(resolveSocket({ socket: a.values.get('socket'), stateDir }));
  const info = await client.info();
  writeStdout(a.flags.has('json') ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
  return 0;
}
