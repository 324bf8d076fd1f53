// A session is made of parts (isolation, NOTIFY_SOCKET relay, network,
// ports, REST API), each with the same hooks; the launcher
// (src/parent/launcher.ts) walks the handshake and calls each phase, and
// the runner calls the parts' hooks in their order. They stop in the
// reverse order, each part that started, whatever failed: a part that fails
// to start leaves the stop to the runner only for what started before it.

/** The phases of a session, in the order they come. */
export const PHASES = ['beforeClone', 'afterClone', 'mapped', 'childReady'] as const;
export type Phase = (typeof PHASES)[number];

export interface SessionPart<S> {
  /** For logs. */
  readonly name: string;
  /** Before the child is cloned: checks that need the file system, fds for the child. */
  beforeClone?(s: S): void | Promise<void>;
  /** The child is cloned and the state dir is open; before ParentHello. */
  afterClone?(s: S): void | Promise<void>;
  /** The child's ids are mapped (child_pid written): drivers may join its namespaces. */
  mapped?(s: S): void | Promise<void>;
  /** ChildInitUserNSCompleted: the child's namespaces are set up, it waits for the drivers. */
  childReady?(s: S): void | Promise<void>;
  /** The target runs (ChildTargetStarted). Must not throw. */
  targetStarted?(s: S): void;
  /** Release what the part holds; called once, only if one of its hooks completed. */
  stop?(s: S): void | Promise<void>;
}

export class PartRunner<S> {
  private readonly started = new Set<SessionPart<S>>();
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly parts: readonly SessionPart<S>[],
    private readonly session: S,
    /** A stop that failed: the others still stop. */
    private readonly onStopError: (part: string, err: unknown) => void,
  ) {}

  /** Runs the phase's hook of every part, in order; the first failure ends the phase (and is thrown). */
  async run(phase: Phase): Promise<void> {
    if (this.stopping) throw new Error(`internal: phase ${phase} after the session's parts stopped`);
    for (const part of this.parts) {
      const hook = part[phase];
      if (hook === undefined) continue;
      await hook.call(part, this.session);
      this.started.add(part);
    }
  }

  /** The target runs: every started part hears it. */
  targetStarted(): void {
    for (const part of this.parts) if (this.started.has(part)) part.targetStarted?.(this.session);
  }

  /** Stops the parts that started, last first; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const part of [...this.parts].reverse()) {
        if (!this.started.has(part)) continue;
        try {
          await part.stop?.(this.session);
        } catch (err) {
          this.onStopError(part.name, err);
        }
      }
    })();
    return this.stopping;
  }
}
