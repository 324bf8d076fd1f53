// `rootless exec`: run a command inside a running session's namespaces, as
// uid 0 there, with the session's environment. The addon's spawn joins the
// namespaces (setns, user namespace first: it grants the rights for the
// rest) in the freshly cloned process before execve, and forks once more
// when a pid namespace is joined, since only children enter it. The command
// is looked up in the session's mount namespace, not ours.
import { fstatSync, openSync, closeSync, statSync } from 'node:fs';
import { RootlessError, SyscallError, exitCodeOf } from '../sys/errors.js';
import {
  cloneFlags as CF, close, getpgrp, spawn, tcsetpgrp, type ExitStatus,
} from '../sys/native.js';
import { signalNumber } from '../sys/signals.js';
import { ownsTerminal, relaySignals } from '../sys/process.js';
import { DEFAULT_PATH, notRunnable } from '../sys/command.js';
import { envGet, fromBase64 } from '../sys/bytes.js';
import { callerCwd, reapInheritedChildren } from '../sys/caller.js';
import { startedNofileSoft } from '../sys/nofile.js';
import { NS_NAMES, readSession, type NsName, type SessionRecord } from './sessions.js';

const NSTYPE: Record<NsName, number> = {
  user: CF.CLONE_NEWUSER,
  mnt: CF.CLONE_NEWNS,
  net: CF.CLONE_NEWNET,
  pid: CF.CLONE_NEWPID,
  uts: CF.CLONE_NEWUTS,
  ipc: CF.CLONE_NEWIPC,
  cgroup: CF.CLONE_NEWCGROUP,
};

export interface ExecRequest {
  stateDir: string;
  /** How the user named the session, for messages. */
  label: string;
  /** As bytes: they need not be UTF-8 (sys/caller.ts callerArgv). */
  command: Buffer[];
}

/** The running session's record, or a RootlessError saying why there is none. */
export function runningSession(stateDir: string, label: string): SessionRecord {
  const s = readSession(stateDir);
  if (s.state === 'stopped') {
    throw new RootlessError(`no session is running in ${label}`, { step: 'find session', code: 'ESRCH', subject: stateDir });
  }
  if (s.state === 'starting') {
    throw new RootlessError(`session ${label} is still starting (its target does not run yet); try again`, {
      step: 'find session', code: 'EAGAIN', subject: stateDir,
    });
  }
  return s.record;
}

interface OpenNamespaces {
  setns: { fd: number; nstype: number }[];
  close(): void;
}

/** Opens the child's namespace files and checks they are still the session's (a pid can be reused). */
function openNamespaces(record: SessionRecord, label: string): OpenNamespaces {
  const fds: number[] = [];
  const close = (): void => {
    for (const fd of fds) closeSync(fd);
  };
  const setns: { fd: number; nstype: number }[] = [];
  try {
    for (const ns of NS_NAMES) {
      if (!record.namespaces.includes(ns)) continue;
      let fd: number;
      try {
        fd = openSync(`/proc/${record.childPid}/ns/${ns}`, 'r');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
        if (code === 'ENOENT' || code === 'ESRCH') {
          throw new RootlessError(`session ${label} has ended`, { step: 'find session', code: 'ESRCH', subject: String(record.childPid) });
        }
        throw new RootlessError(`cannot open the ${ns} namespace of session ${label}: ${code}`, {
          step: 'open namespace', code, subject: `/proc/${record.childPid}/ns/${ns}`,
        });
      }
      fds.push(fd);
      const ino = fstatSync(fd).ino;
      const expected = record.nsInodes[ns];
      if (expected !== undefined && expected !== ino) {
        throw new RootlessError(`session ${label} has ended (pid ${record.childPid} is another process now)`, {
          step: 'find session', code: 'ESRCH', subject: String(record.childPid),
        });
      }
      // Already in it (exec from inside the session): setns would refuse the user namespace.
      if (statSync(`/proc/self/ns/${ns}`).ino === ino) continue;
      setns.push({ fd, nstype: NSTYPE[ns] });
    }
  } catch (err) {
    close();
    throw err;
  }
  return { setns, close };
}

/** Runs the command; resolves with its exit code (128+N when killed by N). */
export async function execInSession(req: ExecRequest): Promise<number> {
  await reapInheritedChildren();
  const record = runningSession(req.stateDir, req.label);
  const ns = openNamespaces(record, req.label);
  const name = req.command[0]!;
  const env = record.envB64.map(fromBase64);
  const foreground = ownsTerminal();
  const nofileSoft = startedNofileSoft();
  let onExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((res) => (onExit = res));
  let pidfd = -1;
  const relay = relaySignals();
  try {
    // The caller's directory if the session has it, else the target's, else /.
    const cwds = [callerCwd(), fromBase64(record.cwdB64), Buffer.from('/')].filter((c, i, all) => all.findIndex((o) => o.equals(c)) === i);
    for (let i = 0; ; i++) {
      try {
        pidfd = spawn(
          {
            file: name,
            argv: req.command,
            envp: env,
            cwd: cwds[i]!,
            ...(name.includes('/') ? {} : { searchPath: envGet(env, 'PATH') ?? DEFAULT_PATH }),
            setns: ns.setns,
            fds: [0, 1, 2],
            ...(nofileSoft === undefined ? {} : { nofileSoft }),
            pdeathsig: signalNumber('SIGKILL'),
            newProcessGroup: foreground,
            ...(foreground ? { foregroundTty: 0 } : {}),
          },
          (_err, status) => onExit(status),
        ).pidfd;
        break;
      } catch (err) {
        if (err instanceof SyscallError && err.step === 'chdir' && i + 1 < cwds.length) continue;
        if (err instanceof SyscallError && err.step === 'execve') throw notRunnable(name, err.code ?? 'ENOENT');
        if (err instanceof SyscallError && err.step === 'setns') {
          throw new RootlessError(`cannot enter the namespaces of session ${req.label}: ${err.code}`, {
            step: 'setns', ...(err.code ? { code: err.code } : {}), subject: req.stateDir, cause: err,
          });
        }
        throw err;
      }
    }
  } finally {
    ns.close();
    if (pidfd < 0) relay.stop();
  }
  relay.attach(pidfd);
  const status = await exited;
  relay.stop();
  close(pidfd);
  if (foreground) {
    try {
      tcsetpgrp(0, getpgrp());
    } catch {
      // terminal gone
    }
  }
  return exitCodeOf(status);
}
