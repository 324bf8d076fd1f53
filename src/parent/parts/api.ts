// The REST API (src/api/session.ts) as a session part. With drivers,
// api.sock comes last, after every -p listens: RootlessKit's clients take
// it as "ready". Without (--net=host, no ports), it starts after the
// target, off the critical path.
import { ApiSession } from '../../api/session.js';
import type { LaunchSession } from '../launch-session.js';
import type { SessionPart } from '../parts.js';

export function apiPart(): SessionPart<LaunchSession> {
  let api: ApiSession | undefined;
  return {
    name: 'api',
    mapped(s) {
      api = new ApiSession(s.log);
      // Its modules load while the child's node boots.
      if (s.awaitDrivers) api.preload();
    },
    async childReady(s) {
      if (!s.awaitDrivers) return;
      await api!.start({ state: s.state, childPid: s.child.pid, network: s.network, ports: s.ports });
    },
    targetStarted(s) {
      if (!s.awaitDrivers) api!.startLate({ state: s.state, childPid: s.child.pid });
    },
    stop: () => api?.close(),
  };
}
