// The parent's lifecycle: clone the child first (its node start is the
// longest step), then, while it boots, find the sub-ids and write the maps;
// then the handshake and waiting for the target. What a session holds
// (isolation, NOTIFY_SOCKET relay, network, ports, REST API) is a list of
// parts (src/parent/parts/) with common hooks, run at each phase of the
// handshake and stopped in reverse (src/parent/parts.ts).
import { userInfo } from 'node:os';
import type { Logger } from '../sys/log.js';
import type { ChildConfig } from '../protocol/config.js';
import type { ChildLog, ChildTargetExited } from '../protocol/messages.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import { errorFromChildError } from '../protocol/channel.js';
import { RootlessError, exitCodeOf } from '../sys/errors.js';
import { getpgrp, tcsetpgrp } from '../sys/native.js';
import { ownsTerminal } from '../sys/process.js';
import { TERMINATING_SIGNALS, forwardSignals, inheritedIgnoredSignals, signalName, signalNumber } from '../sys/signals.js';
import { spawnChild, type ChildHandle } from './child.js';
import { checkDrivers, diagnoseNoCapabilities, noNewPrivs, noNewPrivsError } from './preflight.js';
import type { UserIdentity } from './usermap.js';
import { targetEnvironment } from './environment.js';
import { toBase64 } from '../sys/bytes.js';
import { callerCwd, callerEnvironment, reapInheritedChildren } from '../sys/caller.js';
import { mark } from '../sys/trace.js';
import { LaunchSession } from './launch-session.js';
import { PartRunner } from './parts.js';
import { isolationPart } from './parts/isolation.js';
import { notifyPart } from './parts/notify.js';
import { networkPart } from './parts/network.js';
import { portsPart } from './parts/ports.js';
import { apiPart } from './parts/api.js';
import { nativeChildSuffices, targetReplacesChild, type LaunchPlan } from './plan.js';
import { spawnNativeChild } from './native-child.js';

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

export async function launch(opts: LaunchPlan, log: Logger): Promise<LaunchResult> {
  await reapInheritedChildren();
  const netChecked = await checkDrivers(opts);
  const s = new LaunchSession(opts, log);
  // Each phase runs these in this order; they stop in the reverse one.
  const parts = new PartRunner([isolationPart(), notifyPart(), networkPart(netChecked), portsPart(), apiPart()], s, (part, err) =>
    log.warn({ part, err: (err as Error).message }, 'a part of the session did not stop cleanly'));
  let child: ChildHandle | undefined;
  let stopForwarding: (() => void) | undefined;
  const foreground = ownsTerminal();
  // --detach-netns: the child (and the target) keep the host's network
  // namespace; the child makes the isolated one at $STATE/netns.
  const namespaces = { pid: opts.pidns, net: opts.network.driver !== 'host' && !opts.network.detachNetns, uts: opts.utsns, ipc: opts.ipcns, cgroup: opts.cgroupns };
  // Until the target is known to run: terminating signals go to the child
  // at once (its default action, or its forwarder, ends the start); other
  // signals wait, since a node that has not installed its handlers yet
  // would take SIGUSR1 as "start the inspector".
  const signals = { targetRunning: false, queued: [] as number[], interruptedBy: undefined as number | undefined };
  try {
    await parts.run('beforeClone');
    const nnp = noNewPrivs();
    if (nnp && opts.subidSource !== 'none' && opts.subidSource !== 'auto') throw noNewPrivsError();
    // The sub-id lookup reads /etc/subuid and /etc/subgid in libuv's thread
    // pool: it runs while the child is cloned and the state dir is made.
    const userMap = import('./usermap.js').then(async (m) => ({ writeUserMap: m.writeUserMap, plan: await m.planUserMap(opts.subidSource, identity(), process.env.PATH) }));
    userMap.catch(() => {});

    // Clone first: the child's node start is the longest step of all, and
    // everything below overlaps with it. The native child has no node to
    // start: it waits for its exec plan, sent once the id maps are written.
    const cloned = nativeChildSuffices(opts)
      ? await spawnNativeChild({ namespaces, extraFds: s.childFds, ignoredSignals: inheritedIgnoredSignals(), foreground })
      : await spawnChild({
          namespaces,
          ambientCaps: process.env.ROOTLESS_DISABLE_AMBIENT_CAPS !== '1',
          onLog: (m: ChildLog) => relayChildLog(log, m),
          extraFds: s.childFds,
        });
    child = s.child = cloned;
    mark('parent', 'cloned');
    stopForwarding = forwardSignals((sig, num) => {
      if (signals.targetRunning) {
        log.debug({ signal: sig }, 'forwarding signal to the child');
        cloned.signal(num);
      } else if (TERMINATING_SIGNALS.has(sig)) {
        signals.interruptedBy ??= num;
        cloned.signal(num);
      } else {
        signals.queued.push(num);
      }
    });
    await parts.run('afterClone');
    mark('parent', 'state-dir-ready');
    const state = s.state;
    const config: ChildConfig = {
      commandB64: opts.command.map(toBase64),
      envB64: targetEnvironment(callerEnvironment(), state.path, s.notifySocket).map(toBase64),
      cwdB64: toBase64(callerCwd()),
      ignoredSignals: [...inheritedIgnoredSignals()],
      propagation: opts.propagation,
      logLevel: log.level,
      foreground,
      namespaces,
      awaitDrivers: s.awaitDrivers,
      stateDir: state.path,
      ...(opts.network.detachNetns ? { detachNetns: true } : {}),
      ...(targetReplacesChild(opts) ? { execTarget: true } : {}),
      // The isolation part's fields (copyUp and reaper among them).
      ...(s.configFields as Pick<ChildConfig, 'copyUp' | 'reaper'>),
    };
    s.childConfig = config;
    cloned.channel.send({ type: 'ParentHello', version: PROTOCOL_VERSION, config });

    const { writeUserMap, plan } = await userMap;
    for (const w of plan.warnings) log.warn(w);
    for (const n of plan.notes) log.debug(n);
    mark('parent', 'subids-found');
    if (plan.mode === 'subids' && nnp) throw noNewPrivsError();
    await writeUserMap(cloned.pid, plan);
    // child_pid exists before the child may start the target.
    state.writeFile('child_pid', String(cloned.pid));
    cloned.channel.send({ type: 'ParentInitIdmapCompleted' });
    mark('parent', 'idmap-written');
    if (signals.interruptedBy !== undefined) throw interrupted(signals.interruptedBy);
    await parts.run('mapped');

    await cloned.channel.receive('ChildHello', 'ChildHello', HANDSHAKE_TIMEOUT_MS);
    let userns;
    try {
      userns = await cloned.channel.receive('ChildInitUserNSCompleted', 'the child to set up its namespaces', HANDSHAKE_TIMEOUT_MS);
    } catch (err) {
      throw err instanceof RootlessError && err.step === 'gain capabilities' ? diagnoseNoCapabilities(err) : err;
    }
    if (userns.reexecs > 0) log.debug({ reexecs: userns.reexecs }, 'the child re-executed itself to gain capabilities');
    if (signals.interruptedBy !== undefined) throw interrupted(signals.interruptedBy);
    mark('parent', 'child-ready');

    // The drivers attach to the child's namespaces (the network part tells
    // the child, which configures its side meanwhile), then api.sock; the
    // child then starts the target.
    await parts.run('childReady');
    if (s.awaitDrivers) cloned.channel.send({ type: 'ParentInitPortDriverCompleted', port: s.ports!.childInfo });
    return await waitForTarget(cloned, log, signals, s.failures, () => parts.targetStarted());
  } catch (err) {
    if (child !== undefined) {
      child.signal(signalNumber('SIGKILL'));
      await child.exited;
    }
    throw err;
  } finally {
    stopForwarding?.();
    // Nothing of the session outlives the launcher: the child exits right
    // after reporting the target's status (or was killed above); wait for
    // it, then stop the parts (their drivers are waited for too).
    await child?.exited;
    if (foreground) {
      try {
        tcsetpgrp(0, getpgrp());
      } catch {
        // terminal gone
      }
    }
    await parts.stop();
  }
}

function interrupted(sig: number): RootlessError {
  return new RootlessError(`interrupted by ${signalName(sig)} before the target started`, {
    step: 'start', exitCode: exitCodeOf({ code: null, signal: sig }),
  });
}

interface SignalState {
  targetRunning: boolean;
  queued: number[];
  interruptedBy: number | undefined;
}

async function waitForTarget(
  child: ChildHandle,
  log: Logger,
  signals: SignalState,
  failures: Promise<never>[],
  onTargetStarted?: () => void,
): Promise<LaunchResult> {
  // Resolves on the target's status (the child exits right after sending
  // it, and dies with us anyway: PDEATHSIG), on a ChildError, or when the
  // child dies without either.
  let execing = false;
  const running = (): void => {
    signals.targetRunning = true;
    for (const num of signals.queued.splice(0)) child.signal(num);
  };
  const outcome = await new Promise<ChildTargetExited | RootlessError>((resolve) => {
    // A driver that dies ends the session: no silent loss of network.
    for (const f of failures) f.catch((err: unknown) => resolve(err instanceof RootlessError ? err : new RootlessError(String(err), { step: 'driver' })));
    child.channel.onMessage((msg) => {
      if (msg.type === 'ChildTargetStarted') {
        log.debug({ targetPid: msg.pid, exec: msg.exec === true }, 'target running');
        // An exec'ing child gets queued signals once the execve is done (EOF below).
        if (msg.exec) execing = true;
        else running();
        onTargetStarted?.();
      }
      else if (msg.type === 'ChildTargetExited') resolve(msg);
      else if (msg.type === 'ChildError') resolve(errorFromChildError(msg));
      else log.warn({ type: msg.type }, 'unexpected message from the child');
    });
    child.channel.onClose((err) => {
      if (err) log.debug({ err: err.message }, 'child pipe closed with an error');
      if (execing) {
        // The child is the target now: its exit status is the target's.
        running();
        void child.exited.then((status) => resolve({ type: 'ChildTargetExited', code: status.code, signal: status.signal }));
        return;
      }
      void child.exited.then((status) => {
        // A child that is PID 1 (--pidns) exits 128+N instead (src/child/pidns.ts).
        if (signals.interruptedBy !== undefined && (status.signal === signals.interruptedBy || status.code === exitCodeOf({ code: null, signal: signals.interruptedBy }))) {
          resolve(interrupted(signals.interruptedBy));
          return;
        }
        const how = status.signal !== null ? `was killed by signal ${status.signal}` : `exited with code ${status.code}`;
        resolve(
          new RootlessError(`the child process ${how} before reporting the target's status`, {
            step: 'wait for target', subject: String(child.pid),
          }),
        );
      });
    });
  });
  if (outcome instanceof RootlessError) throw outcome;
  return { exitCode: exitCodeOf(outcome), target: { code: outcome.code, signal: outcome.signal } };
}

function relayChildLog(log: Logger, m: ChildLog): void {
  const fields = { ...(m.fields ?? {}), from: 'child' };
  log[m.level](fields, m.msg);
}
