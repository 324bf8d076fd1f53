// Runs the target inside the namespaces and reports how it ended.
import { SyscallError } from '../sys/errors.js';
import { execInPlace, spawn, tcsetpgrp, getpgrp, type ExitStatus, type SpawnOptions } from '../sys/native.js';
import { signalNumber } from '../sys/signals.js';
import { relaySignals } from '../sys/process.js';
import { notRunnable, resolveCommand } from '../sys/command.js';
import { envGet, fromBase64, shown } from '../sys/bytes.js';
import type { ChildConfig } from '../protocol/config.js';
import type { Logger } from '../sys/log.js';
import { targetActivation } from './activation.js';
import { releaseEarlySignals } from './pidns.js';
import { startedNofileSoft } from '../sys/nofile.js';

export interface RunningTarget {
  pid: number;
  exited: Promise<ExitStatus>;
}

/** What spawn and execInPlace take that the target's start does not change. */
export type TargetProcessOptions = Omit<SpawnOptions, 'cloneFlags' | 'setns' | 'pdeathsig'>;

/**
 * The target's process, the same whether the child spawns it (startTarget)
 * or becomes it (execTarget): its argv, environment and cwd as bytes, the
 * program's path, socket activation (LISTEN_FDS: sockets at 3.., LISTEN_PID
 * its own), signals, capabilities, fd limit and process group. `name` is
 * argv[0], for the error when it cannot run; `file` the program's path
 * (also in options), for the log.
 */
export function targetProcessOptions(config: ChildConfig): { options: TargetProcessOptions; name: Buffer; file: Buffer } {
  const argv = config.commandB64.map(fromBase64);
  const env = config.envB64.map(fromBase64);
  const cwd = fromBase64(config.cwdB64);
  const name = argv[0] ?? Buffer.alloc(0);
  const file = resolveCommand(name, envGet(env, 'PATH'), cwd);
  const activation = targetActivation(config, env);
  const nofileSoft = startedNofileSoft();
  return {
    name,
    file,
    options: {
      file,
      argv,
      envp: activation.env,
      cwd,
      ignoreSignals: config.ignoredSignals,
      fds: [0, 1, 2, ...activation.fds],
      ...(activation.listenPidEnv ? { listenPidEnv: true } : {}),
      // The target is uid 0 here and gets its capabilities the ordinary
      // way; nothing of ours is inherited.
      clearCaps: true,
      // The user's own fd limit, not the one node raised (sys/nofile.ts).
      ...(nofileSoft === undefined ? {} : { nofileSoft }),
      newProcessGroup: config.foreground,
      ...(config.foreground ? { foregroundTty: 0 } : {}),
    },
  };
}

export function startTarget(config: ChildConfig, log: Logger): RunningTarget {
  const { options, name, file } = targetProcessOptions(config);
  let onExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((res) => (onExit = res));

  const relay = relaySignals((sig) => log.debug({ signal: sig }, 'forwarding signal to the target'));
  releaseEarlySignals();
  let spawned;
  try {
    spawned = spawn(
      // If the child dies, the target must not outlive it.
      { ...options, pdeathsig: signalNumber('SIGKILL') },
      (_err, status) => onExit(status),
    );
  } catch (err) {
    relay.stop();
    if (err instanceof SyscallError && err.step === 'execve') throw notRunnable(name, err.code ?? 'ENOENT');
    throw err;
  }
  relay.attach(spawned.pidfd);
  log.debug({ targetPid: spawned.pid, file: shown(file) }, 'target started');

  void exited.then(() => {
    relay.stop();
    if (config.foreground) {
      // Give the terminal back to the launcher's process group before the
      // launcher prints anything or exits.
      try {
        tcsetpgrp(0, getpgrp());
      } catch {
        // The terminal may be gone (hangup); nothing to give back.
      }
    }
  });
  return { pid: spawned.pid, exited };
}

/**
 * The child becomes the target (config.execTarget): the process startTarget
 * spawns (targetProcessOptions), done in this process, so that only the
 * launcher's node stays for the session. `announce` runs once the command is known to
 * exist, right before the point of no return. Never returns.
 */
export function execTarget(config: ChildConfig, log: Logger, announce: () => void): never {
  const { options, file } = targetProcessOptions(config);
  log.debug({ file: shown(file) }, 'the child becomes the target');
  announce();
  // The PDEATHSIG the child set (SIGKILL with the parent) stays across execve.
  return execInPlace(options);
}
