// `rootless doctor [--json]`: is this machine ready for rootless, and what
// to do when it is not. Each group of checks is its own module and reads the
// machine only through a Host (src/doctor/types.ts).
import { UsageError } from '../sys/errors.js';
import { writeStdout } from '../sys/stderr.js';
import { realHost } from './host.js';
import { networkChecks } from './network.js';
import { report, reportJson, reportText, type DoctorReport } from './report.js';
import { cgroupChecks, lingerCheck, portCheck, runtimeDirCheck } from './session.js';
import { subIdChecks } from './subids.js';
import { runTrial, trialCheck, type TrialOutcome } from './trial.js';
import type { Check, Host } from './types.js';
import { helperChecks } from './uidmap.js';
import { usernsChecks } from './userns.js';

export type { Check, Host } from './types.js';

/** Every check against `host`; the trial only when `trial` is given (the real machine). */
export async function runDoctor(host: Host, trial?: () => Promise<TrialOutcome>): Promise<DoctorReport> {
  const checks: Check[] = [
    ...usernsChecks(host),
    ...helperChecks(host),
    ...subIdChecks(host),
    ...(await networkChecks(host)),
    ...cgroupChecks(host),
    portCheck(host),
    runtimeDirCheck(host),
    lingerCheck(host),
  ];
  if (trial) checks.push(trialCheck(await trial()));
  return report(checks);
}

export const DOCTOR_HELP = `Usage: rootless doctor [--json]

Checks whether this machine is ready for rootless, as the user running it:
user namespaces, newuidmap/newgidmap, sub-id ranges, slirp4netns and pasta,
/dev/net/tun, cgroups, low ports, XDG_RUNTIME_DIR, lingering, and a real
trial run. Each check prints ok, warn or fail, and the fix to paste when it
is not ok. Exit status: 0 when nothing required fails, 1 otherwise.

Options:
  --json      print one JSON document {"ok", "checks": [{"name", "status", "message", "fix"?}]}
  -h, --help  show help

Examples:
  rootless doctor
  rootless doctor --json | jq '.checks[] | select(.status != "ok")'

What each check means: docs/doctor.md
`;

export async function doctorCommand(argv: readonly string[]): Promise<number> {
  let json = false;
  for (const a of argv) {
    if (a === '--json') json = true;
    else if (a === '-h' || a === '--help') {
      writeStdout(DOCTOR_HELP);
      return 0;
    } else throw new UsageError(`rootless doctor: unknown ${a.startsWith('-') ? 'flag' : 'argument'} ${a} (usage: rootless doctor [--json])`, { subject: a });
  }
  const host = realHost();
  const r = await runDoctor(host, () => runTrial());
  writeStdout(json ? reportJson(r) : reportText(r, host.user === undefined ? `uid ${host.uid}` : `${host.user} (uid ${host.uid})`));
  return r.ok ? 0 : 1;
}

