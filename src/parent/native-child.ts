// The native child (issue #11). When nothing needs a process inside the
// namespaces once the target runs, and no flag needs the node child's setup
// (src/parent/plan.ts nativeChildSuffices), the addon's clone execs the
// target itself: no node boots inside, and the target's parent is the
// launcher. That process speaks no JSON: once the id maps are written it
// reads the target's program, argv, environment and cwd from its gate
// (addon execPayload), sets "/"'s propagation, reports "ready" or the step
// that failed in 8-byte records (decodeChildReport), and its report pipe
// reaches EOF at its execve. NativeChildChannel reads that as the protocol's
// messages, so the launcher walks one handshake for both children.
import type { Socket } from 'node:net';
import type { PassThrough } from 'node:stream';
import { Channel } from '../protocol/channel.js';
import { encodeFrame } from '../protocol/framing.js';
import { PROTOCOL_VERSION, childErrorMessage, type ChildError, type Message } from '../protocol/messages.js';
import type { ChildConfig, ChildNamespaces } from '../protocol/config.js';
import { activatedTargetEnv } from '../protocol/activation.js';
import { SyscallError } from '../sys/errors.js';
import { decodeChildReport, execPayload, spawnGated, type ChildReport, type ExitStatus, type GatedSpawned } from '../sys/native.js';
import { pidfdSignaller } from '../sys/process.js';
import { signalNumber } from '../sys/signals.js';
import { startedNofileSoft } from '../sys/nofile.js';
import { envGet, fromBase64, shown } from '../sys/bytes.js';
import { DEFAULT_PATH, notRunnable } from '../sys/command.js';
import { propagationFlags } from '../sys/propagation.js';
import { namespaceFlags, type ChildHandle } from './child.js';
import { diagnoseUserNamespaceFailure } from './preflight.js';

const REPORT_BYTES = 8;

export interface NativeChildOptions {
  namespaces: ChildNamespaces;
  /** Activated sockets: the target's fds 3 onwards. */
  extraFds: number[];
  /** What the caller of rootless ignored: ignored in the child and the target. */
  ignoredSignals: readonly number[];
  /** Give the target its own process group and the terminal's foreground. */
  foreground: boolean;
}

/** The exec plan for the gate, from the config the node child would get in ParentHello. */
function payloadOf(config: ChildConfig): { payload: Buffer; name: Buffer } {
  const argv = config.commandB64.map(fromBase64);
  const name = argv[0] ?? Buffer.alloc(0);
  const n = config.listenFds ?? 0;
  const targetEnv = config.envB64.map(fromBase64);
  const envp = n > 0 ? activatedTargetEnv(targetEnv, n) : targetEnv;
  // execvp-style in the child, after its chdir: the same lookup as
  // src/sys/command.ts resolveCommand, by the kernel's own answers.
  const searchPath = name.includes(0x2f) ? undefined : (envGet(targetEnv, 'PATH') ?? Buffer.from(DEFAULT_PATH));
  const payload = execPayload({
    file: name,
    argv,
    envp,
    cwd: fromBase64(config.cwdB64),
    ...(searchPath === undefined ? {} : { searchPath }),
    ...(n > 0 ? { listenPidEnv: true } : {}),
    rootPropagation: propagationFlags(config.propagation),
  });
  return { payload, name };
}

/** A failed step of the native child, as the node child would have reported it. */
function childError(r: Extract<ChildReport, { ready: false }>, name: Buffer, config: ChildConfig | undefined): ChildError {
  const e =
    r.step === 'execve'
      ? notRunnable(name, r.code)
      : new SyscallError(r.step, r.errno, r.code, r.step === 'mount' ? '/' : r.step === 'chdir' && config ? shown(fromBase64(config.cwdB64)) : undefined);
  return childErrorMessage(e);
}

/** The protocol's channel to a native child: what the launcher sends becomes
 * the gate's payload; the child's reports and EOF come back as messages. */
class NativeChildChannel extends Channel {
  private config: ChildConfig | undefined;
  private payload: Buffer | undefined;
  private name: Buffer = Buffer.alloc(0);
  private ready = false;
  private failed = false;
  private rest: Buffer = Buffer.alloc(0);

  constructor(
    report: Socket,
    private readonly gate: Socket,
    private readonly frames: PassThrough,
    private readonly pid: number,
  ) {
    super(frames, gate, { peer: 'child' });
    report.on('data', (chunk: Buffer) => this.onReport(chunk));
    report.on('close', () => this.onEof());
    report.on('error', () => {});
  }

  override send(msg: Message): void {
    if (msg.type === 'ParentHello') {
      this.config = msg.config;
      ({ payload: this.payload, name: this.name } = payloadOf(msg.config));
    } else if (msg.type === 'ParentInitIdmapCompleted' && this.payload !== undefined) {
      this.gate.end(this.payload);
      this.payload = undefined;
    } else {
      throw new Error(`internal: ${msg.type} sent to the native child, which awaits no drivers`);
    }
  }

  private emit(msg: Message): void {
    this.frames.write(encodeFrame(msg));
  }

  private onReport(chunk: Buffer): void {
    this.rest = Buffer.concat([this.rest, chunk]);
    while (this.rest.length >= REPORT_BYTES) {
      const r = decodeChildReport(this.rest.subarray(0, REPORT_BYTES));
      this.rest = this.rest.subarray(REPORT_BYTES);
      if (r.ready) {
        this.ready = true;
        this.emit({ type: 'ChildHello', version: PROTOCOL_VERSION });
        this.emit({ type: 'ChildInitUserNSCompleted', reexecs: 0 });
      } else if (!this.failed) {
        this.failed = true;
        this.emit(childError(r, this.name, this.config));
      }
    }
  }

  /** EOF after "ready" and no failure: the execve is done, the child is the target. */
  private onEof(): void {
    if (this.ready && !this.failed) this.emit({ type: 'ChildTargetStarted', pid: this.pid, exec: true });
    this.frames.end();
  }
}

export async function spawnNativeChild(opts: NativeChildOptions): Promise<ChildHandle> {
  let onExit!: (s: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((res) => (onExit = res));
  const nofile = startedNofileSoft();
  let spawned: GatedSpawned;
  try {
    spawned = spawnGated(
      {
        cloneFlags: namespaceFlags(opts.namespaces),
        fds: [0, 1, 2, ...opts.extraFds],
        pdeathsig: signalNumber('SIGKILL'),
        ignoreSignals: opts.ignoredSignals,
        // Capabilities only from being uid 0 in the namespace at execve.
        clearCaps: true,
        newProcessGroup: opts.foreground,
        ...(opts.foreground ? { foregroundTty: 0 } : {}),
        // The user's own fd limit, not the one node raised (sys/nofile.ts).
        ...(nofile === undefined ? {} : { nofileSoft: nofile }),
      },
      (_err, status) => onExit(status),
    );
  } catch (err) {
    if (err instanceof SyscallError && err.syscall === 'clone3') throw diagnoseUserNamespaceFailure(err);
    throw err;
  }
  // Loaded after the clone (~2.5 ms): while newuidmap runs.
  const [{ Socket }, { PassThrough }] = await Promise.all([import('node:net'), import('node:stream')]);
  const report = new Socket({ fd: spawned.reportFd, readable: true, writable: false });
  const gate = new Socket({ fd: spawned.gateFd, readable: false, writable: true });
  const closed = new Promise<void>((res) => report.once('close', () => res()));
  const channel = new NativeChildChannel(report, gate, new PassThrough(), spawned.pid);
  return { pid: spawned.pid, channel, exited, closed, signal: pidfdSignaller(spawned.pidfd, exited) };
}
