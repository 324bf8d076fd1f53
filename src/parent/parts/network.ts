// The network driver as a session part. It attaches to namespaces that
// exist since the clone, so it starts once the ids are mapped, while the
// child's node boots (not with --detach-netns, whose namespace the child
// makes before it is ready); the child hears of it when it is ready.
import { join } from 'node:path';
import { startNetwork, type NetworkCheck, type NetworkSession } from '../../net/index.js';
import type { NetworkContext } from '../../net/types.js';
import type { LaunchSession } from '../launch-session.js';
import type { SessionPart } from '../parts.js';

/** `checked`: the driver's check of this host, from the preflight. */
export function networkPart(checked: NetworkCheck): SessionPart<LaunchSession> {
  let starting: Promise<NetworkSession> | undefined;
  let network: NetworkSession | undefined;
  const start = (s: LaunchSession): Promise<NetworkSession> => {
    const ctx: NetworkContext = { childPid: s.child.pid, state: s.state, log: s.log, fromPorts: s.fromPorts };
    return startNetwork(s.plan.network, ctx, checked);
  };
  return {
    name: 'network',
    mapped(s) {
      if (!s.awaitDrivers || s.plan.network.detachNetns) return;
      starting = start(s);
      starting.catch(() => {}); // awaited when the child is ready
    },
    async childReady(s) {
      if (!s.awaitDrivers) return;
      network = await (starting ?? start(s));
      s.network = network;
      s.failures.push(network.failed);
      s.child.channel.send({ type: 'ParentInitNetworkDriverCompleted', network: network.childInfo });
    },
    async stop() {
      await (network ?? (await starting?.catch(() => undefined)))?.stop();
    },
  };
}

/** --detach-netns: where the child bound the isolated namespace. */
export function detachedNetns(s: LaunchSession): string | undefined {
  return s.plan.network.detachNetns ? join(s.state.path, 'netns') : undefined;
}
