// What every port driver shares: ids, RootlessKit's conflict rule, the
// /v1/info description, and "nothing half-published" for a batch of -p.
import { RootlessError } from '../sys/errors.js';
import { findConflict, formatPortSpec, specJSON, type PortSpec, type PortStatus } from './spec.js';

/** GET /v1/info's portDriver (RootlessKit's api.PortDriverInfo). */
export interface PortDriverInfo {
  driver: string;
  protos: string[];
  disallowLoopbackChildIP?: boolean;
  /** builtin: connections inside come from the client's address (RootlessKit
   * v3's --source-ip-transparent); absent until the child has set it up. */
  sourceIPTransparent?: boolean;
}

/** A request the driver refuses (bad spec, conflict, unknown id, port in use): 400 in the API. */
export class PortError extends RootlessError {
  constructor(message: string, subject?: string, code?: string) {
    super(message, { step: 'port', ...(subject === undefined ? {} : { subject }), ...(code === undefined ? {} : { code }) });
  }
}

/** One published port as a driver holds it. */
export interface OpenPort {
  /** Stop forwarding it. Established connections may finish. */
  close(): Promise<void>;
}

/** The API's view of a port driver. */
export interface PortDriver {
  readonly info: PortDriverInfo;
  add(spec: PortSpec): Promise<PortStatus>;
  remove(id: number): Promise<void>;
  list(): PortStatus[];
  stop(): Promise<void>;
}

/**
 * Keeps the table of ports; subclasses open and close the forwarding.
 * Calls are serialized, so two requests for one port cannot both pass the
 * conflict check.
 */
export abstract class PortManager implements PortDriver {
  abstract readonly info: PortDriverInfo;
  private readonly ports = new Map<number, { status: PortStatus; open: OpenPort }>();
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;

  /** Start forwarding spec (already validated), or throw a PortError. */
  protected abstract open(spec: PortSpec, id: number): Promise<OpenPort>;

  /** Driver-specific checks (protos, child IP rules); throw PortError. */
  protected check(spec: PortSpec): void {
    if (!this.info.protos.includes(spec.proto)) {
      throw new PortError(`${formatPortSpec(spec)}: proto ${spec.proto} is not supported by the ${this.info.driver} port driver (${this.info.protos.join(', ')})`, formatPortSpec(spec));
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  add(spec: PortSpec): Promise<PortStatus> {
    return this.serial(async () => {
      if (this.stopped) throw new PortError('the session is ending');
      this.check(spec);
      const clash = findConflict(spec, [...this.ports.values()].map((p) => p.status));
      // RootlessKit's words, which its clients may match on.
      if (clash !== undefined) throw new PortError(`conflict with ID ${clash.id}`, formatPortSpec(spec));
      const id = this.nextId++;
      const open = await this.open(spec, id);
      const status: PortStatus = { id, spec: { ...spec } };
      this.ports.set(id, { status, open });
      return status;
    });
  }

  remove(id: number): Promise<void> {
    return this.serial(async () => {
      const p = this.ports.get(id);
      if (p === undefined) throw new PortError(`unknown id: ${id}`, String(id));
      this.ports.delete(id);
      await p.open.close();
    });
  }

  list(): PortStatus[] {
    return [...this.ports.values()].map((p) => ({ id: p.status.id, spec: { ...p.status.spec } }));
  }

  /** Publishes every spec, or none: on the first failure the others are removed. */
  async addAll(specs: readonly PortSpec[]): Promise<void> {
    const added: number[] = [];
    try {
      for (const s of specs) added.push((await this.add(s)).id);
    } catch (err) {
      for (const id of added) await this.remove(id).catch(() => {});
      throw err;
    }
  }

  stop(): Promise<void> {
    return this.serial(async () => {
      this.stopped = true;
      const all = [...this.ports.values()];
      this.ports.clear();
      for (const p of all) await p.open.close().catch(() => {});
      await this.shutdown();
    });
  }

  /** After every port is closed: release the driver's own resources. */
  protected async shutdown(): Promise<void> {}
}

/** The JSON of a status, field order and omissions as RootlessKit's. */
export function statusJSON(s: PortStatus): Record<string, unknown> {
  return { id: s.id, spec: specJSON(s.spec) };
}
