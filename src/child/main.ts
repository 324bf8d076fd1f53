// Entry point of the child: node started by the parent's clone, inside the
// new namespaces, holding the namespace's capabilities. It loads only what
// it needs (no CLI, no logger) because its start is on the critical path.
import { Socket } from 'node:net';
import { Channel } from '../protocol/channel.js';
import { PROTOCOL_VERSION } from '../protocol/messages.js';
import { RootlessError, errorMessage } from '../sys/errors.js';
import { close, pidfdExited, setPdeathsig } from '../sys/native.js';
import { signalNumber } from '../sys/signals.js';
import { ensureCapabilities, type ReexecState } from './caps.js';
import { CHILD_FD, REEXEC_ENV } from './config.js';
import { ChildLogger } from './log.js';
import { setRootPropagation } from './mounts.js';
import { startTarget } from './target.js';

/** Generous: node may start slowly on a loaded machine. EOF ends any wait at once. */
const HANDSHAKE_TIMEOUT_MS = 60_000;

const channel = new Channel(
  new Socket({ fd: CHILD_FD.fromParent, readable: true, writable: false }),
  new Socket({ fd: CHILD_FD.toParent, readable: false, writable: true }),
  { peer: 'parent' },
);

async function handshake(): Promise<ReexecState> {
  const saved = process.env[REEXEC_ENV];
  if (saved !== undefined) {
    delete process.env[REEXEC_ENV];
    return JSON.parse(saved) as ReexecState;
  }
  const hello = await channel.receive('ParentHello', 'ParentHello', HANDSHAKE_TIMEOUT_MS);
  if (hello.version !== PROTOCOL_VERSION) {
    throw new RootlessError(`parent speaks protocol ${hello.version}, child ${PROTOCOL_VERSION}`, { step: 'handshake' });
  }
  channel.send({ type: 'ChildHello', version: PROTOCOL_VERSION });
  await channel.receive('ParentInitIdmapCompleted', 'the id maps', HANDSHAKE_TIMEOUT_MS);
  return { config: hello.config, reexecs: 0 };
}

/** Die with the parent. Set only now: the kernel clears it when credentials change. */
function bindToParent(): void {
  setPdeathsig(signalNumber('SIGKILL'));
  if (pidfdExited(CHILD_FD.parentPidfd)) process.exit(1);
  close(CHILD_FD.parentPidfd);
}

async function main(): Promise<void> {
  const state = await handshake();
  const { config } = state;
  const log = new ChildLogger(channel, config.logLevel);
  ensureCapabilities(state, log);
  bindToParent();
  setRootPropagation(config.propagation);
  channel.send({ type: 'ChildInitUserNSCompleted', reexecs: state.reexecs });

  await channel.receive('ParentInitNetworkDriverCompleted', 'the network driver', HANDSHAKE_TIMEOUT_MS);
  await channel.receive('ParentInitPortDriverCompleted', 'the port driver', HANDSHAKE_TIMEOUT_MS);

  const target = startTarget(config, log);
  channel.send({ type: 'ChildTargetStarted', pid: target.pid });
  // The parent's death kills us (PDEATHSIG); a closed pipe without death
  // means the parent gave up on us: end the target with us.
  channel.onMessage(() => {});
  channel.onClose(() => process.exit(1));

  const status = await target.exited;
  channel.send({ type: 'ChildTargetExited', code: status.code, signal: status.signal });
  finish(0);
}

function finish(code: number): void {
  // Exit only once the last message has reached the pipe.
  void channel.flush().then(() => process.exit(code));
}

main().catch((err: unknown) => {
  const e =
    err instanceof RootlessError
      ? err
      : new RootlessError(errorMessage(err), { step: 'child', cause: err });
  try {
    channel.send({
      type: 'ChildError',
      message: e.message,
      step: e.step,
      exitCode: e.exitCode,
      ...(e.code ? { code: e.code } : {}),
      ...(e.subject ? { subject: e.subject } : {}),
      ...(e.hint ? { hint: e.hint } : {}),
    });
  } catch {
    process.stderr.write(`rootless (child): ${e.oneLine()}\n`);
  }
  finish(1);
});
