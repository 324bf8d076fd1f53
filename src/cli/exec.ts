// `rootless exec [--state-dir DIR | SESSION] [--] CMD [ARGS...]`: argv and
// help; the work is in src/parent/exec.ts. Without a session or state dir,
// the one running named session is used (an error when there are several).
import { callerArgv } from '../sys/caller.js';
import { isAbsolute, join, normalize } from 'node:path';
import { UsageError, quoteValue } from '../sys/errors.js';
import { writeStdout } from '../sys/stderr.js';
import { parseSessionName } from './options.js';

export const EXEC_HELP = `Usage: rootless exec [--state-dir DIR | SESSION] [--] CMD [ARGS...]

Run CMD in the namespaces of a running session (user, mount, network, pid,
uts, ipc, cgroup: those the session has), as uid 0 there, with the session's
environment. Exits with CMD's exit code (128+N when killed by signal N).

  SESSION            a session started with \`rootless run --name SESSION\`
                     (default: the only running one; see \`rootless ps\`)
  --state-dir DIR    the session's state directory ($ROOTLESSKIT_STATE_DIR
                     inside it), for sessions without a name
  -h, --help         show this help

Examples:
  rootless run --name web --pidns -- nginx -g 'daemon off;' &
  rootless exec web -- sh                 # a shell in the session web
  rootless exec -- ps ax                  # the only running named session
  rootless exec --state-dir "$DIR" -- ip addr
`;

export type ExecArgs = { help: true } | { session?: string; stateDir?: string; command: string[] };

export function parseExecArgv(argv: readonly string[]): ExecArgs {
  let session: string | undefined;
  let stateDir: string | undefined;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-h' || a === '--help') return { help: true };
    if (a === '--state-dir' || a.startsWith('--state-dir=')) {
      const v = a === '--state-dir' ? argv[++i] : a.slice('--state-dir='.length);
      if (v === undefined) throw new UsageError('rootless exec: --state-dir: missing value');
      if (!isAbsolute(v)) throw new UsageError(`rootless exec: --state-dir: ${quoteValue(v)} is not an absolute path`, { subject: v });
      stateDir = normalize(v);
      continue;
    }
    if (a.startsWith('-') && a !== '-') throw new UsageError(`rootless exec: unknown flag ${a}`, { subject: a });
    // The first word names the session unless --state-dir did; the rest is the command.
    if (session === undefined && stateDir === undefined) {
      try {
        session = parseSessionName(a);
      } catch (err) {
        throw new UsageError(`rootless exec: ${(err as Error).message.replace(/^--name: /, 'session ')}`, { subject: a });
      }
      continue;
    }
    break;
  }
  const command = argv.slice(i);
  if (session !== undefined && stateDir !== undefined) {
    throw new UsageError('rootless exec: give a session name or --state-dir, not both', { subject: session });
  }
  if (command.length === 0 || command[0] === '') throw new UsageError('rootless exec: missing command (rootless exec SESSION -- CMD)');
  return { ...(session !== undefined ? { session } : {}), ...(stateDir !== undefined ? { stateDir } : {}), command };
}

export async function execCommand(argv: string[]): Promise<number> {
  const parsed = parseExecArgv(argv);
  if ('help' in parsed) {
    writeStdout(EXEC_HELP);
    return 0;
  }
  const { sessionsBase, listSessions } = await import('../parent/sessions.js');
  const { execInSession } = await import('../parent/exec.js');
  let stateDir = parsed.stateDir;
  let label = stateDir ?? '';
  if (parsed.session !== undefined) {
    stateDir = join(sessionsBase(), parsed.session);
    label = parsed.session;
  } else if (stateDir === undefined) {
    const running = listSessions().filter((s) => s.state === 'running');
    if (running.length !== 1) {
      const names = running.map((s) => s.dir.slice(s.dir.lastIndexOf('/') + 1));
      throw new UsageError(
        running.length === 0
          ? 'rootless exec: no named session is running; name one, or give --state-dir'
          : `rootless exec: several sessions are running (${names.join(', ')}); name one`,
      );
    }
    stateDir = running[0]!.dir;
    label = stateDir.slice(stateDir.lastIndexOf('/') + 1);
  }
  return execInSession({ stateDir, label, command: callerArgv(parsed.command) });
}
