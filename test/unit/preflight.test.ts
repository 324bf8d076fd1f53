import test from 'ava';
import { diagnoseNoCapabilities, diagnoseUserNamespaceFailure, noNewPrivs, type ProcReader } from '../../src/parent/preflight.js';
import { RootlessError, SyscallError } from '../../src/sys/errors.js';

const proc = (files: Record<string, string>): ProcReader => (path) => files[path];
const cloneErr = (code: string): SyscallError => new SyscallError('clone3', 0, code);

test('ENOSPC with max_user_namespaces=0: disabled, with the sysctl to run', (t) => {
  const e = diagnoseUserNamespaceFailure(cloneErr('ENOSPC'), proc({ '/proc/sys/user/max_user_namespaces': '0' }));
  t.regex(e.message, /disabled: user\.max_user_namespaces is 0/);
  t.regex(e.hint ?? '', /sysctl -w user\.max_user_namespaces=\d+/);
  t.is(e.code, 'ENOSPC');
  t.is(e.exitCode, 125);
});

test('ENOSPC with a non-zero limit: the limit is reached', (t) => {
  const e = diagnoseUserNamespaceFailure(cloneErr('ENOSPC'), proc({ '/proc/sys/user/max_user_namespaces': '15' }));
  t.regex(e.message, /limit on user namespaces is reached \(user\.max_user_namespaces = 15\)/);
});

test('EPERM with kernel.unprivileged_userns_clone=0 (older Debian kernels)', (t) => {
  const e = diagnoseUserNamespaceFailure(cloneErr('EPERM'), proc({ '/proc/sys/kernel/unprivileged_userns_clone': '0' }));
  t.regex(e.message, /unprivileged_userns_clone is 0/);
  t.regex(e.hint ?? '', /sysctl -w kernel\.unprivileged_userns_clone=1/);
});

test('EPERM with the AppArmor restriction (Ubuntu 24.04)', (t) => {
  const e = diagnoseUserNamespaceFailure(
    cloneErr('EPERM'),
    proc({ '/proc/sys/kernel/unprivileged_userns_clone': '1', '/proc/sys/kernel/apparmor_restrict_unprivileged_userns': '1' }),
  );
  t.regex(e.message, /AppArmor/);
  t.regex(e.hint ?? '', /apparmor_restrict_unprivileged_userns=0|userns,/);
});

test('EPERM for no known reason points at seccomp/containers', (t) => {
  const e = diagnoseUserNamespaceFailure(cloneErr('EPERM'), proc({}));
  t.regex(e.message, /refused to create a user namespace/);
  t.regex(e.hint ?? '', /seccomp/);
});

test('EINVAL: kernel without user namespaces', (t) => {
  t.regex(diagnoseUserNamespaceFailure(cloneErr('EINVAL'), proc({})).message, /does not support user namespaces/);
});

test('no capabilities in the namespace is refined by the AppArmor sysctl, else kept', (t) => {
  const base = new RootlessError('no caps', { step: 'gain capabilities', code: 'EPERM' });
  t.regex(diagnoseNoCapabilities(base, proc({ '/proc/sys/kernel/apparmor_restrict_unprivileged_userns': '1' })).message, /AppArmor restricts/);
  t.is(diagnoseNoCapabilities(base, proc({})), base);
});

test('noNewPrivs reads /proc/self/status', (t) => {
  t.true(noNewPrivs(proc({ '/proc/self/status': 'Name:\tx\nNoNewPrivs:\t1\nSeccomp:\t0\n' })));
  t.false(noNewPrivs(proc({ '/proc/self/status': 'Name:\tx\nNoNewPrivs:\t0\n' })));
  t.false(noNewPrivs(proc({})));
});
