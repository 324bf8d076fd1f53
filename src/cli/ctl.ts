// `rootless ctl`: RootlessKit's `rootlessctl`, verbatim syntax and output,
// so scripts written for it work by changing the program name:
//   rootless ctl [--socket PATH] [--debug] list-ports [--json]
//   rootless ctl [--socket PATH] add-ports [--json] SPEC...
//   rootless ctl [--socket PATH] remove-ports ID...
//   rootless ctl [--socket PATH] info [--json]
// Errors: "error: ..." on stderr, exit 1, as rootlessctl.
import { writeStderr, writeStdout } from '../sys/stderr.js';
import { ApiClient } from '../api/client.js';
import { packageVersion } from './flags.js';
import { parsePortSpec, specJSON } from '../port/spec.js';
import { goTabwriter, parseArgs } from './api-args.js';
import { join } from 'node:path';

export const CTL_USAGE = `NAME:
   rootless ctl - RootlessKit API client (rootlessctl-compatible)

USAGE:
   rootless ctl [global options] command [command options] [arguments...]

COMMANDS:
   list-ports    List ports
   add-ports     Add ports
   remove-ports  Remove ports
   info          Show info

GLOBAL OPTIONS:
   --debug         debug mode (default: false)
   --socket value  Path to api.sock (under the "rootlesskit --state-dir" directory), defaults to $ROOTLESSKIT_STATE_DIR/api.sock
   --help, -h      show help (default: false)
   --version, -v   print the version (default: false)

EXAMPLES:
   rootless ctl --socket "$ROOTLESSKIT_STATE_DIR/api.sock" list-ports
   rootless ctl --socket "$DIR/api.sock" add-ports 127.0.0.1:8080:80/tcp
   rootless ctl --socket "$DIR/api.sock" remove-ports 1
`;

class CtlError extends Error {}

function socketPath(socket: string | undefined): string {
  if (socket !== undefined) return socket;
  const dir = process.env.ROOTLESSKIT_STATE_DIR;
  if (dir === undefined || dir === '') throw new CtlError('please specify --socket or set $ROOTLESSKIT_STATE_DIR');
  return join(dir, 'api.sock');
}

/** Go's %v of a []string: [a b c]. */
const goList = (xs: readonly string[] | undefined): string => `[${(xs ?? []).join(' ')}]`;

async function command(name: string, rest: string[], socket: string | undefined): Promise<number> {
  const sub = parseArgs(rest, [], ['json', 'help'], `rootless ctl ${name}`, { h: 'help' });
  if (sub.flags.has('help')) {
    writeStdout(`USAGE:\n   rootless ctl ${name} [command options] [flags]${name === 'add-ports' ? ' PARENTIP:PARENTPORT:CHILDPORT/PROTO...' : name === 'remove-ports' ? ' ID...' : ''}\n`);
    return 0;
  }
  const json = sub.flags.has('json');
  const args = sub.positionals;
  switch (name) {
    case 'list-ports': {
      const ports = await new ApiClient(socketPath(socket)).listPorts();
      if (json) {
        // One object per line, as rootlessctl.
        writeStdout(ports.map((p) => `${JSON.stringify({ id: p.id, spec: specJSON({ ...p.spec, parentIP: p.spec.parentIP ?? '' }) })}\n`).join(''));
        return 0;
      }
      const rows = [['ID', 'PROTO', 'PARENTIP', 'PARENTPORT', 'CHILDIP', 'CHILDPORT']];
      for (const p of ports) rows.push([String(p.id), p.spec.proto, p.spec.parentIP ?? '', String(p.spec.parentPort), p.spec.childIP ?? '', String(p.spec.childPort)]);
      writeStdout(goTabwriter(rows));
      return 0;
    }
    case 'add-ports': {
      if (args.length === 0) throw new CtlError('no port specified');
      const specs = args.map((s) => {
        try {
          return parsePortSpec(s);
        } catch (err) {
          throw new CtlError((err as Error).message);
        }
      });
      const client = new ApiClient(socketPath(socket));
      for (const s of specs) {
        const st = await client.addPort(s);
        writeStdout(json ? `${JSON.stringify({ id: st.id, spec: specJSON({ ...st.spec, parentIP: st.spec.parentIP ?? '' }) })}\n` : `${st.id}\n`);
      }
      return 0;
    }
    case 'remove-ports': {
      if (args.length === 0) throw new CtlError('no ID specified');
      const ids = args.map((s) => {
        if (!/^-?[0-9]+$/.test(s)) throw new CtlError(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
        return Number(s);
      });
      const client = new ApiClient(socketPath(socket));
      for (const id of ids) {
        await client.removePort(id);
        writeStdout(`${id}\n`);
      }
      return 0;
    }
    case 'info': {
      const info = await new ApiClient(socketPath(socket)).info();
      if (json) {
        // rootlessctl prints the fields its Go struct knows: not ours.
        if (info.portDriver) {
          const { sourceIPTransparent: _ours, ...known } = info.portDriver;
          info.portDriver = known;
        }
        writeStdout(`${JSON.stringify(info, null, 4)}\n`);
        return 0;
      }
      let out = `- REST API version: ${info.apiVersion}\n- Implementation version: ${info.version}\n- State Directory: ${info.stateDir}\n- Child PID: ${info.childPID}\n`;
      if (info.networkDriver) {
        out += `- Network Driver: ${info.networkDriver.driver}\n  - DNS: ${goList(info.networkDriver.dns)}\n`;
        if (info.networkDriver.childIP) out += `  - IP: ${info.networkDriver.childIP}\n`;
      }
      if (info.portDriver) out += `- Port Driver: ${info.portDriver.driver}\n  - Supported protocols: ${goList(info.portDriver.protos)}\n`;
      writeStdout(out);
      return 0;
    }
    default:
      writeStderr(`No help topic for '${name}'\n`);
      return 3;
  }
}

export async function ctlMain(argv: readonly string[]): Promise<number> {
  try {
    // Global options come before the command, as urfave/cli parses them.
    let i = 0;
    let socket: string | undefined;
    for (; i < argv.length; i++) {
      const a = argv[i]!;
      if (!a.startsWith('-')) break;
      if (a === '--') {
        i++;
        break;
      }
      const name = a.replace(/^--?/, '').split('=')[0];
      if (name === 'socket') {
        socket = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
        if (socket === undefined) throw new CtlError('flag needs an argument: -socket');
      } else if (name === 'debug') {
        // accepted; the client has nothing more to say
      } else if (name === 'help' || name === 'h') {
        writeStdout(CTL_USAGE);
        return 0;
      } else if (name === 'version' || name === 'v') {
        writeStdout(`rootless ctl version ${packageVersion()}\n`);
        return 0;
      } else {
        throw new CtlError(`flag provided but not defined: -${name}`);
      }
    }
    const name = argv[i];
    if (name === undefined) {
      writeStdout(CTL_USAGE);
      return 0;
    }
    return await command(name, argv.slice(i + 1), socket);
  } catch (err) {
    writeStderr(`error: ${(err as Error).message}\n`);
    return 1;
  }
}
