// Isolation as a session part: flag checks, socket activation and cgroup
// evacuation before the clone; the state dir, its guard and the named
// session after; the session record once the target runs; at the stop, the
// state dir's files and what is left in the namespace.
import { openStateDir } from '../../sys/statedir.js';
import { prepareIsolation, type IsolationSession } from '../isolation.js';
import type { LaunchSession } from '../launch-session.js';
import type { SessionPart } from '../parts.js';

export function isolationPart(): SessionPart<LaunchSession> {
  let isolation: IsolationSession | undefined;
  return {
    name: 'isolation',
    beforeClone(s) {
      isolation = prepareIsolation(s.plan);
      // First: activated sockets are at CHILD_FD.firstActivated onwards.
      s.addChildFds(isolation.childFds);
    },
    afterClone(s) {
      const { log } = s;
      s.state = openStateDir(
        isolation!.stateDir,
        (stale) => log.info({ stateDir: s.plan.stateDir, files: stale }, 'removed files left by a session that was killed'),
        (msg) => log.warn(msg),
      );
      log.debug({ childPid: s.child.pid, stateDir: s.state.path }, 'child cloned');
      isolation!.attach(s.state, s.child.pid, log);
      Object.assign(s.configFields, isolation!.childConfig());
    },
    targetStarted(s) {
      isolation!.targetStarted(s.childConfig);
    },
    stop(s) {
      s.openedState?.cleanup();
      isolation!.end();
    },
  };
}
