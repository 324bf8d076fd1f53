// The port driver as a session part: what it needs before the clone (the
// builtin driver's control sockets go to the child with it), and, once the
// network driver runs, every -p listening.
import { portDriver, type PortParentDriver, type PortPrep, type PortSession } from '../../port/index.js';
import type { LaunchSession } from '../launch-session.js';
import type { SessionPart } from '../parts.js';
import { detachedNetns } from './network.js';

export function portsPart(): SessionPart<LaunchSession> {
  let driver: PortParentDriver | undefined;
  let prep: PortPrep | undefined;
  let fdNumbers: number[] = [];
  let ports: PortSession | undefined;
  return {
    name: 'ports',
    async beforeClone(s) {
      driver = await portDriver(s.plan.ports.driver);
      prep = await driver.prepare(s.plan.ports);
      fdNumbers = s.addChildFds(prep.childFds);
      s.fromPorts = prep.forNetwork;
    },
    afterClone() {
      prep!.cloned(fdNumbers);
    },
    async childReady(s) {
      if (!s.awaitDrivers) return;
      const netnsPath = detachedNetns(s);
      ports = await driver!.start(s.plan.ports, {
        childPid: s.child.pid, state: s.state, log: s.log, fromNetwork: s.network?.forPorts,
        ...(netnsPath !== undefined ? { netnsPath } : {}),
      }, prep!);
      s.ports = ports;
      s.failures.push(ports.failed);
    },
    async stop() {
      await ports?.stop();
      prep?.discard();
    },
  };
}
