// The parent's lifecycle: clone the child first (its node start is the
// longest step), then, while it boots, find the sub-ids and write the maps;
// then the handshake, the drivers, and waiting for the target.
import { userInfo } from 'node:os';
import { isatty } from 'node:tty';
import type { RunOptions } from '../cli/options.js';
import type { Logger } from '../cli/log.js';
import type { ChildConfig, ChildLogLevel } from '../child/config.js';
import type { ChildLog, ChildTargetExited } from '../protocol/messages.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import { errorFromChildError } from '../protocol/channel.js';
import { ExitCode, RootlessError } from '../sys/errors.js';
import { getpgrp, tcgetpgrp, tcsetpgrp } from '../sys/native.js';
import { forwardSignals, signalNumber } from '../sys/signals.js';
import { spawnChild, type ChildHandle } from './child.js';
import { diagnoseNoCapabilities, noNewPrivs, noNewPrivsError } from './preflight.js';
import { openStateDir } from './statedir.js';
import { planUserMap, writeUserMap, type UserIdentity } from './usermap.js';
import { targetEnvironment } from './environment.js';

/** Generous: node may start slowly on a loaded machine. The child's death ends any wait at once (EOF). */
const HANDSHAKE_TIMEOUT_MS = 60_000;

export interface LaunchResult {
  exitCode: number;
  /** The target's own status, when it ran. */
  target?: { code: number | null; signal: number | null };
}

function identity(): UserIdentity {
  const uid = process.geteuid!();
  const gid = process.getegid!();
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // no passwd entry for this uid: sub-ids can only match numerically
  }
  return { name, uid, gid };
}

/** The launcher is in the foreground of the terminal on stdin. */
function ownsTerminal(): boolean {
  if (!isatty(0)) return false;
  try {
    return tcgetpgrp(0) === getpgrp();
  } catch {
    return false;
  }
}

function childLogLevel(level: Logger['level']): ChildLogLevel {
  return level === 'fatal' ? 'error' : level;
}

export async function launch(opts: RunOptions, log: Logger): Promise<LaunchResult> {
  const nnp = noNewPrivs();
  if (nnp && opts.subidSource !== 'none' && opts.subidSource !== 'auto') throw noNewPrivsError();

  const state = openStateDir(opts.stateDir, (stale) =>
    log.info({ stateDir: opts.stateDir, files: stale }, 'removed files left by a session that was killed'),
  );
  let child: ChildHandle | undefined;
  let pendingSignal: number | undefined;
  const stopForwarding = forwardSignals((sig, num) => {
    if (child) {
      log.debug({ signal: sig }, 'forwarding signal to the child');
      child.signal(num);
    } else {
      pendingSignal ??= num;
    }
  });
  const foreground = ownsTerminal();
  try {
    const namespaces = { pid: opts.pidns, net: opts.net !== 'host', uts: opts.utsns, ipc: opts.ipcns, cgroup: opts.cgroupns };
    child = spawnChild({
      namespaces,
      ambientCaps: process.env.ROOTLESS_DISABLE_AMBIENT_CAPS !== '1',
      onLog: (m: ChildLog) => relayChildLog(log, m),
    });
    log.debug({ pid: child.pid, stateDir: state.path }, 'child cloned');

    const config: ChildConfig = {
      command: opts.command,
      env: targetEnvironment(process.env, state.path),
      cwd: process.cwd(),
      propagation: opts.propagation,
      logLevel: childLogLevel(log.level),
      foreground,
      namespaces,
      reaper: false,
      stateDir: state.path,
    };
    child.channel.send({ type: 'ParentHello', version: PROTOCOL_VERSION, config });

    const plan = await planUserMap(opts.subidSource, identity(), process.env.PATH);
    for (const w of plan.warnings) log.warn(w);
    for (const n of plan.notes) log.debug(n);
    if (plan.mode === 'subids' && nnp) throw noNewPrivsError();
    await writeUserMap(child.pid, plan);
    child.channel.send({ type: 'ParentInitIdmapCompleted' });
    state.writeFile('child_pid', String(child.pid));
    if (pendingSignal !== undefined) throw interrupted(pendingSignal);

    await child.channel.receive('ChildHello', 'ChildHello', HANDSHAKE_TIMEOUT_MS);
    let userns;
    try {
      userns = await child.channel.receive('ChildInitUserNSCompleted', 'the child to set up its namespaces', HANDSHAKE_TIMEOUT_MS);
    } catch (err) {
      throw err instanceof RootlessError && err.step === 'gain capabilities' ? diagnoseNoCapabilities(err) : err;
    }
    if (userns.reexecs > 0) log.debug({ reexecs: userns.reexecs }, 'the child re-executed itself to gain capabilities');

    // Networking and ports arrive with their drivers; host/none need nothing.
    child.channel.send({ type: 'ParentInitNetworkDriverCompleted' });
    child.channel.send({ type: 'ParentInitPortDriverCompleted' });
    if (pendingSignal !== undefined) throw interrupted(pendingSignal);

    const result = await waitForTarget(child, log);
    return result;
  } catch (err) {
    if (child) {
      child.signal(signalNumber('SIGKILL'));
      await child.exited;
    }
    throw err;
  } finally {
    stopForwarding();
    if (foreground) {
      try {
        tcsetpgrp(0, getpgrp());
      } catch {
        // terminal gone
      }
    }
    state.cleanup();
  }
}

function interrupted(sig: number): RootlessError {
  return new RootlessError(`interrupted by signal ${sig} before the target started`, {
    step: 'start', exitCode: 128 + sig,
  });
}

async function waitForTarget(child: ChildHandle, log: Logger): Promise<LaunchResult> {
  let exited: ChildTargetExited | undefined;
  let failure: RootlessError | undefined;
  child.channel.onMessage((msg) => {
    if (msg.type === 'ChildTargetStarted') log.debug({ pid: msg.pid }, 'target started');
    else if (msg.type === 'ChildTargetExited') exited = msg;
    else if (msg.type === 'ChildError') failure = errorFromChildError(msg);
    else log.warn({ type: msg.type }, 'unexpected message from the child');
  });
  child.channel.onClose((err) => {
    if (err) log.debug({ err: err.message }, 'child pipe closed with an error');
  });
  const status = await child.exited;
  await child.closed;
  if (failure) throw failure;
  if (!exited) {
    const how = status.signal !== null ? `was killed by signal ${status.signal}` : `exited with code ${status.code}`;
    throw new RootlessError(`the child process ${how} before reporting the target's status`, {
      step: 'wait for target', subject: String(child.pid),
    });
  }
  const code = exited.signal !== null ? 128 + exited.signal : (exited.code ?? ExitCode.LauncherFailed);
  return { exitCode: code, target: { code: exited.code, signal: exited.signal } };
}

function relayChildLog(log: Logger, m: ChildLog): void {
  const fields = { ...(m.fields ?? {}), from: 'child' };
  log[m.level](fields, m.msg);
}
