// The NOTIFY_SOCKET relay (src/parent/notify.ts) as a session part: it
// starts before ParentHello, since the target may notify at once.
import { startNotifyRelay, type NotifyRelay } from '../notify.js';
import type { LaunchSession } from '../launch-session.js';
import type { SessionPart } from '../parts.js';

export function notifyPart(env: NodeJS.ProcessEnv = process.env): SessionPart<LaunchSession> {
  let relay: NotifyRelay | undefined;
  return {
    name: 'notify',
    afterClone(s) {
      relay = startNotifyRelay(env, s.state, s.log);
      s.notifySocket = relay?.targetSocket;
    },
    stop: () => relay?.stop(),
  };
}
