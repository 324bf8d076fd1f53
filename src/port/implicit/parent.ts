// The implicit port driver (--net=pasta): pasta itself forwards the ports
// given to it when it starts (the network driver passes the -p specs as
// its -t/-u options). This side only reports them; pasta cannot take new
// ones while it runs, so runtime changes are refused with a clear error.
import { PortError, PortManager, type OpenPort, type PortDriverInfo } from '../manager.js';
import { formatPortSpec, type PortSpec } from '../spec.js';
import type { PortParentDriver } from '../driver.js';
import { never, noPrep } from '../session.js';
import { pastaForwards, pastaPortArgs } from './forwards.js';

const RUNTIME_CHANGE =
  'the implicit port driver (pasta) cannot change ports while the session runs: pasta takes its ports when it starts; publish them with -p/--publish, or use --port-driver=builtin';

export class ImplicitDriver extends PortManager {
  readonly info: PortDriverInfo = { driver: 'implicit', protos: ['tcp', 'tcp4', 'tcp6', 'udp', 'udp4', 'udp6'] };
  private started = false;

  /** The -p specs pasta was started with. */
  async start(specs: readonly PortSpec[]): Promise<void> {
    await this.addAll(specs);
    this.started = true;
  }

  protected async open(spec: PortSpec): Promise<OpenPort> {
    if (this.started) throw new PortError(`${formatPortSpec(spec)}: ${RUNTIME_CHANGE}`, formatPortSpec(spec));
    return { close: async () => {} };
  }

  override async remove(id: number): Promise<void> {
    if (!this.list().some((p) => p.id === id)) throw new PortError(`unknown id: ${id}`, String(id));
    throw new PortError(`port ${id}: ${RUNTIME_CHANGE}`, String(id));
  }
}

export const driver: PortParentDriver = {
  name: 'implicit',
  // Bad input, refused before anything starts.
  check: (plan) => void pastaForwards(plan.publish),
  // pasta takes its forwards as options when it starts.
  prepare: async (plan) => noPrep(pastaPortArgs(plan.publish)),
  async start(plan) {
    const d = new ImplicitDriver();
    await d.start(plan.publish.map((p) => p.spec));
    return { childInfo: { driver: 'implicit' }, driver: d, failed: never, stop: () => d.stop() };
  },
};
