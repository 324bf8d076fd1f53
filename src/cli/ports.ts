// `rootless ports ls|add SPEC...|rm ID...`: the published ports of a running
// session, through its REST API.
import { UsageError, quoteValue } from '../sys/errors.js';
import { writeStdout } from '../sys/stderr.js';
import { ApiClient, ApiError, resolveSocket } from '../api/client.js';
import { parsePortSpec, parentAddress, type PortSpec, type PortStatus } from '../port/spec.js';
import { statusJSON } from '../port/manager.js';
import { columns, parseArgs, sessionOrStateDir } from './api-args.js';

export const PORTS_USAGE = `Usage: rootless ports [SESSION | --socket PATH | --state-dir DIR] [--json] COMMAND

  ls                 list the published ports
  add SPEC...        publish ports: [PARENT_IP:]PARENT_PORT:[CHILD_IP:]CHILD_PORT[/PROTO]
                     e.g. 127.0.0.1:8080:80/tcp, [::1]:8080:80/tcp, 5353:53/udp
  rm ID...           stop publishing ports (established connections finish)

  SESSION           a session started with \`rootless run --name SESSION\`
  --socket PATH     the session's api.sock
  --state-dir DIR   the session's state directory (DIR/api.sock)
                    (default: $ROOTLESSKIT_STATE_DIR inside a session)
  --json            JSON for scripts (ls, add: an array of {id, spec})
  -h, --help        show this help

Examples:
  rootless ports web ls                        # the session started with --name web
  rootless ports web add 127.0.0.1:8080:80/tcp 5353:53/udp
  rootless ports --state-dir "$DIR" rm 2
  rootless ports --json ls                     # inside a session
`;

const PORTS_COMMANDS = ['ls', 'list', 'add', 'rm', 'remove'];

function childText(s: PortSpec): string {
  if (s.childIP === undefined || s.childIP === '') return String(s.childPort);
  return `${s.childIP.includes(':') ? `[${s.childIP}]` : s.childIP}:${s.childPort}`;
}

export function formatPorts(ports: PortStatus[]): string {
  const rows = [['ID', 'PROTO', 'PARENT', 'CHILD']];
  for (const p of [...ports].sort((a, b) => a.id - b.id)) rows.push([String(p.id), p.spec.proto, parentAddress({ ...p.spec, parentIP: p.spec.parentIP ?? '' }), childText(p.spec)]);
  return columns(rows);
}

export async function portsMain(argv: readonly string[]): Promise<number> {
  const a = parseArgs(argv, ['socket', 'state-dir'], ['json', 'help'], 'rootless ports', { h: 'help' });
  if (a.flags.has('help')) {
    writeStdout(PORTS_USAGE);
    return 0;
  }
  // A first word that is not a command names the session.
  const first = a.positionals[0];
  const session = first !== undefined && !PORTS_COMMANDS.includes(first) ? first : undefined;
  const [cmd, ...args] = session === undefined ? a.positionals : a.positionals.slice(1);
  if (cmd === undefined && session !== undefined) {
    throw new UsageError(`rootless ports: unknown command ${JSON.stringify(session)} (ls, add, rm; a session name comes before the command)`, { subject: session });
  }
  if (cmd === undefined) throw new UsageError('rootless ports: missing command: ls, add SPEC... or rm ID... (see rootless ports --help)');
  if (session !== undefined && !PORTS_COMMANDS.includes(cmd)) {
    throw new UsageError(`rootless ports: unknown command ${JSON.stringify(cmd)} (ls, add, rm)`, { subject: cmd });
  }
  const stateDir = await sessionOrStateDir('rootless ports', session, a.values.get('state-dir'), a.values.get('socket'));
  const json = a.flags.has('json');
  const client = (): ApiClient => new ApiClient(resolveSocket({ socket: a.values.get('socket'), stateDir }));
  switch (cmd) {
    case 'ls':
    case 'list': {
      if (args.length > 0) throw new UsageError(`rootless ports ls: unexpected argument ${quoteValue(args[0])}`);
      const ports = await client().listPorts();
      writeStdout(json ? `${JSON.stringify(ports.sort((x, y) => x.id - y.id).map(statusJSON))}\n` : formatPorts(ports));
      return 0;
    }
    case 'add': {
      if (args.length === 0) throw new UsageError('rootless ports add: no port spec given (e.g. 127.0.0.1:8080:80/tcp)');
      // Every spec is checked before the first is sent.
      const specs = args.map((s) => parsePortSpec(s));
      const c = client();
      const added: PortStatus[] = [];
      for (const [i, s] of specs.entries()) {
        try {
          added.push(await c.addPort(s));
        } catch (err) {
          // All or nothing: the ones this command added go again.
          for (const p of added) await c.removePort(p.id).catch(() => {});
          if (err instanceof ApiError) throw new ApiError(`add ${quoteValue(args[i])}: ${err.message}`, err.status);
          throw err;
        }
      }
      writeStdout(json ? `${JSON.stringify(added.map(statusJSON))}\n` : formatPorts(added));
      return 0;
    }
    case 'rm':
    case 'remove': {
      if (args.length === 0) throw new UsageError('rootless ports rm: no port id given (see rootless ports ls)');
      const ids = args.map((s) => {
        if (!/^[0-9]+$/.test(s)) throw new UsageError(`rootless ports rm: ${quoteValue(s)} is not a port id`, { subject: s });
        return Number(s);
      });
      const c = client();
      // Every id is checked before the first is removed.
      const known = new Set((await c.listPorts()).map((p) => p.id));
      const missing = ids.find((id) => !known.has(id));
      if (missing !== undefined) throw new ApiError(`rm: unknown id: ${missing} (see rootless ports ls)`, 400);
      for (const id of ids) await c.removePort(id);
      if (json) writeStdout(`${JSON.stringify(ids)}\n`);
      return 0;
    }
    default:
      throw new UsageError(`rootless ports: unknown command ${quoteValue(cmd)} (ls, add, rm)`, { subject: cmd });
  }
}
