// Entry point of the child: node started by the parent's clone, inside the
// new namespaces, holding the namespace's capabilities. It loads only what
// it needs (no CLI, no logger) because its start is on the critical path.
import { closeSync, readFileSync } from 'node:fs';
import { keepStdioBlocking, writeStderr } from '../sys/stderr.js';
import { SyncChannel } from '../protocol/sync-channel.js';
import { PROTOCOL_VERSION, childErrorMessage } from '../protocol/messages.js';
import { RootlessError, errorMessage } from '../sys/errors.js';
import { close, pidfdExited, pollFd, setPdeathsig } from '../sys/native.js';
import { inheritIgnoredSignals, signalNumber } from '../sys/signals.js';
import { REEXEC_ENV, ensureCapabilities, type ReexecState } from './caps.js';
import { CHILD_FD } from '../protocol/config.js';
import { ChildLogger } from './log.js';
import { prepareNamespaces } from './setup.js';
import { configureChildNetwork, prepareNetworkNamespace } from '../net/child.js';
import { startChildPorts } from '../port/child.js';
import { execTarget, startTarget } from './target.js';
import { mark } from '../sys/trace.js';

mark('child', 'main');
keepStdioBlocking();

/** Generous: node may start slowly on a loaded machine. EOF ends any wait at once. */
const HANDSHAKE_TIMEOUT_MS = 60_000;

const channel = new SyncChannel(CHILD_FD.fromParent, CHILD_FD.toParent, 'parent', (fd, ms) => pollFd(fd, false, ms));

function handshake(): ReexecState {
  const saved = process.env[REEXEC_ENV];
  if (saved !== undefined) {
    // The fd of the memfd src/child/caps.ts wrote the state to.
    delete process.env[REEXEC_ENV];
    const fd = Number(saved);
    const state = JSON.parse(readFileSync(fd, 'utf8')) as ReexecState;
    closeSync(fd);
    return state;
  }
  const hello = channel.receive('ParentHello', 'ParentHello', HANDSHAKE_TIMEOUT_MS);
  if (hello.version !== PROTOCOL_VERSION) {
    throw new RootlessError(`parent speaks protocol ${hello.version}, child ${PROTOCOL_VERSION}`, { step: 'handshake' });
  }
  channel.send({ type: 'ChildHello', version: PROTOCOL_VERSION });
  channel.receive('ParentInitIdmapCompleted', 'the id maps', HANDSHAKE_TIMEOUT_MS);
  return { config: hello.config, reexecs: 0 };
}

/** Die with the parent. Set only now: the kernel clears it when credentials change. */
function bindToParent(): void {
  setPdeathsig(signalNumber('SIGKILL'));
  if (pidfdExited(CHILD_FD.parentPidfd)) process.exit(1);
  close(CHILD_FD.parentPidfd);
}

async function main(): Promise<void> {
  const state = handshake();
  mark('child', 'idmap-received');
  const { config } = state;
  inheritIgnoredSignals(config.ignoredSignals);
  const log = new ChildLogger(channel, config.logLevel);
  ensureCapabilities(state, log);
  bindToParent();
  prepareNamespaces(config, log);
  prepareNetworkNamespace(config, log);
  channel.send({ type: 'ChildInitUserNSCompleted', reexecs: state.reexecs });

  if (config.awaitDrivers) {
    const net = channel.receive('ParentInitNetworkDriverCompleted', 'the network driver', HANDSHAKE_TIMEOUT_MS);
    configureChildNetwork(net.network, config, log);
    const port = channel.receive('ParentInitPortDriverCompleted', 'the port driver', HANDSHAKE_TIMEOUT_MS);
    await startChildPorts(port.port, log);
  }

  mark('child', 'ready');
  if (config.execTarget) {
    execTarget(config, log, () => channel.send({ type: 'ChildTargetStarted', pid: process.pid, exec: true }));
  }
  const target = startTarget(config, log);
  mark('child', 'target-spawned');
  channel.send({ type: 'ChildTargetStarted', pid: target.pid });
  // The parent's death kills us (PDEATHSIG) and the target with us (its
  // PDEATHSIG); the parent sends nothing more once the target runs.

  const status = await target.exited;
  mark('child', 'target-exited');
  channel.send({ type: 'ChildTargetExited', code: status.code, signal: status.signal });
  finish(0);
}

function finish(code: number): void {
  // Writes are synchronous: everything sent is in the pipe already.
  process.exit(code);
}

main().catch((err: unknown) => {
  const e =
    err instanceof RootlessError
      ? err
      : new RootlessError(errorMessage(err), { step: 'child', cause: err });
  try {
    channel.send(childErrorMessage(e));
  } catch {
    writeStderr(`rootless: error: (child) ${e.oneLine()}\n`);
  }
  finish(1);
});
