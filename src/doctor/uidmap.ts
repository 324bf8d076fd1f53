// newuidmap/newgidmap: present, and able to gain the privilege they need
// (set-uid root or file capabilities, and no no_new_privs on the caller).
import { helperPrivilegeProblem } from '../parent/idmap.js';
import { USERNS_POLICY, noNewPrivs } from '../parent/preflight.js';
import { which } from './host.js';
import type { Check, Host } from './types.js';

/** PATH the launcher searches for the helpers when PATH is unset (src/parent/idmap.ts). */
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

export const INSTALL_UIDMAP = 'Debian/Ubuntu: sudo apt-get install uidmap\nFedora:        sudo dnf install shadow-utils';

export function helperChecks(host: Host): Check[] {
  const checks: Check[] = [];
  for (const step of ['newuidmap', 'newgidmap'] as const) {
    const file = which(host, step, host.env.PATH ?? DEFAULT_PATH);
    if (file === undefined) {
      checks.push({ name: step, status: 'fail', message: `${step} is not in PATH: only your own uid can be mapped`, fix: INSTALL_UIDMAP });
      continue;
    }
    const st = host.stat(file)!;
    const setuid = (st.mode & 0o4000) !== 0 && st.uid === 0;
    const caps = setuid ? undefined : host.fileCaps(file);
    const problem = helperPrivilegeProblem(step, file, st, caps);
    if (problem === undefined) {
      checks.push({ name: step, status: 'ok', message: `${file} is ${setuid ? 'set-uid root' : `privileged by file capabilities (${caps})`}` });
    } else {
      const cap = step === 'newuidmap' ? 'cap_setuid' : 'cap_setgid';
      checks.push({
        name: step,
        status: 'fail',
        message: problem,
        fix: `sudo chown root:root ${file} && sudo chmod u+s ${file}\n# or, with file capabilities instead of set-uid: sudo setcap ${cap}+ep ${file}\n# or reinstall it: ${INSTALL_UIDMAP.split('\n').join('; ')}`,
      });
    }
  }
  const nnp = noNewPrivs((p) => host.read(p)?.trim());
  checks.push(
    nnp
      ? { name: 'no_new_privs', status: 'fail', message: USERNS_POLICY.noNewPrivs.message, fix: USERNS_POLICY.noNewPrivs.fix }
      : { name: 'no_new_privs', status: 'ok', message: 'no_new_privs is not set: the set-uid helpers can work' },
  );
  return checks;
}
