// Checks and diagnoses that turn the kernel's bare errno into a sentence
// that says what is wrong and what to change.
import { readFileSync } from 'node:fs';
import { RootlessError, type SyscallError } from '../sys/errors.js';
import { networkDriver, runningHost, type NetworkCheck } from '../net/index.js';
import { portDriver } from '../port/index.js';
import type { LaunchPlan } from './plan.js';

export type ProcReader = (path: string) => string | undefined;

export const readProc: ProcReader = (path) => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** no_new_privs is set (systemd NoNewPrivileges=, setpriv --no-new-privs, some containers). */
export function noNewPrivs(read: ProcReader = readProc): boolean {
  const status = read('/proc/self/status') ?? '';
  return /^NoNewPrivs:\s*1$/m.test(status);
}

/**
 * The kernel settings that forbid unprivileged user namespaces: one sentence
 * each, and the command that lifts it. The launcher's errors and
 * `rootless doctor` say the same thing from here.
 */
export const USERNS_POLICY = {
  maxUserNamespacesZero: {
    message: 'user namespaces are disabled: user.max_user_namespaces is 0',
    fix: 'sudo sysctl -w user.max_user_namespaces=28633 && echo user.max_user_namespaces=28633 | sudo tee /etc/sysctl.d/90-userns.conf',
  },
  unprivilegedCloneZero: {
    message: 'unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone is 0',
    fix: 'sudo sysctl -w kernel.unprivileged_userns_clone=1 && echo kernel.unprivileged_userns_clone=1 | sudo tee /etc/sysctl.d/90-userns.conf',
  },
  apparmorRestricted: {
    message:
      'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1): a program without an AppArmor profile that allows "userns," gets a namespace without capabilities, so mounts and id maps fail',
    fix: 'add an AppArmor profile granting "userns," to node (rootless doctor prints it), or: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0',
  },
  noNewPrivs: {
    message: 'no_new_privs is set on this process, so the set-uid newuidmap/newgidmap cannot gain the privilege to map sub-ids',
    fix: 'run rootless outside NoNewPrivileges= / setpriv --no-new-privs, or pass --subid-source=none to map only your own uid',
  },
} as const;

export function noNewPrivsError(): RootlessError {
  return new RootlessError(USERNS_POLICY.noNewPrivs.message, { step: 'newuidmap', code: 'EPERM', hint: USERNS_POLICY.noNewPrivs.fix });
}

/** Explains why clone(CLONE_NEWUSER) failed. */
export function diagnoseUserNamespaceFailure(err: SyscallError, read: ProcReader = readProc): RootlessError {
  const code = err.code ?? 'EUNKNOWN';
  const fields = { step: 'create user namespace', code, cause: err };
  const maxNs = read('/proc/sys/user/max_user_namespaces');
  const debianClone = read('/proc/sys/kernel/unprivileged_userns_clone');
  const apparmor = read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns');
  if (code === 'ENOSPC' || code === 'EUSERS') {
    if (maxNs === '0') {
      const p = USERNS_POLICY.maxUserNamespacesZero;
      return new RootlessError(p.message, { ...fields, hint: `enable them with: ${p.fix}` });
    }
    return new RootlessError(`the limit on user namespaces is reached (user.max_user_namespaces = ${maxNs ?? '?'})`, {
      ...fields, hint: 'raise user.max_user_namespaces or end other sessions',
    });
  }
  if (code === 'EPERM') {
    if (debianClone === '0') {
      const p = USERNS_POLICY.unprivilegedCloneZero;
      return new RootlessError(p.message, { ...fields, hint: `enable them with: ${p.fix}` });
    }
    if (apparmor === '1') {
      const p = USERNS_POLICY.apparmorRestricted;
      return new RootlessError(p.message, { ...fields, hint: p.fix });
    }
    return new RootlessError('the kernel refused to create a user namespace (EPERM)', {
      ...fields, hint: 'a seccomp filter (container runtime) or a chroot may forbid it; rootless must run on the host or in a container that allows nested user namespaces',
    });
  }
  if (code === 'EINVAL') {
    return new RootlessError('this kernel does not support user namespaces (clone: EINVAL)', {
      ...fields, hint: 'a kernel built with CONFIG_USER_NS=y is needed',
    });
  }
  return new RootlessError(`cannot create the user namespace: ${err.message}`, fields);
}

/** Refines "no capabilities in the namespace" with the policy that causes it. */
export function diagnoseNoCapabilities(err: RootlessError, read: ProcReader = readProc): RootlessError {
  if (read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    const p = USERNS_POLICY.apparmorRestricted;
    return new RootlessError(p.message, { step: err.step, code: err.code ?? 'EPERM', cause: err, hint: p.fix });
  }
  return err;
}

/**
 * Before anything starts: the port driver can forward what -p asks (else a
 * UsageError), and the network driver can run on this host (else one line
 * naming its program and package). `rootless doctor` asks the same drivers
 * the same question (src/doctor/network.ts). The network driver's check
 * goes to its start.
 */
export async function checkDrivers(plan: Pick<LaunchPlan, 'network' | 'ports'>): Promise<NetworkCheck> {
  (await portDriver(plan.ports.driver)).check(plan.ports);
  const checked = await (await networkDriver(plan.network.driver)).check(runningHost(), plan.network);
  if (checked.problem) throw checked.problem;
  return checked;
}
