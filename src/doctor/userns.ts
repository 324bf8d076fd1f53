// May this user create user namespaces? The sysctls that forbid it, worded
// as the launcher words its errors (src/parent/preflight.ts).
import { USERNS_POLICY } from '../parent/preflight.js';
import type { Check, Host } from './types.js';

const sysctl = (host: Host, name: string): string | undefined => host.read(`/proc/sys/${name.replace(/\./g, '/')}`)?.trim();

/** The profile that lets `node` create user namespaces under Ubuntu's restriction. */
export function apparmorProfile(nodePath: string): string {
  return [
    'abi <abi/4.0>,',
    'include <tunables/global>',
    '',
    `profile rootless-node ${nodePath} flags=(unconfined) {`,
    '  userns,',
    '  include if exists <local/rootless-node>',
    '}',
  ].join('\n');
}

/** A profile under /etc/apparmor.d that names this node and allows userns. */
function profileFor(host: Host, nodePath: string): string | undefined {
  for (const entry of host.list('/etc/apparmor.d') ?? []) {
    const text = host.read(`/etc/apparmor.d/${entry}`);
    if (text !== undefined && text.includes(nodePath) && /^\s*userns\s*,/m.test(text)) return `/etc/apparmor.d/${entry}`;
  }
  return undefined;
}

export function usernsChecks(host: Host): Check[] {
  const checks: Check[] = [];
  const max = sysctl(host, 'user.max_user_namespaces');
  if (max === undefined) {
    checks.push({ name: 'max_user_namespaces', status: 'fail', message: 'user.max_user_namespaces is missing: this kernel has no user namespaces (CONFIG_USER_NS)', fix: 'boot a kernel built with CONFIG_USER_NS=y' });
  } else if (max === '0') {
    checks.push({ name: 'max_user_namespaces', status: 'fail', message: USERNS_POLICY.maxUserNamespacesZero.message, fix: USERNS_POLICY.maxUserNamespacesZero.fix });
  } else {
    checks.push({ name: 'max_user_namespaces', status: 'ok', message: `user.max_user_namespaces = ${max}` });
  }

  const clone = sysctl(host, 'kernel.unprivileged_userns_clone');
  if (clone === '0') {
    checks.push({ name: 'unprivileged_userns_clone', status: 'fail', message: USERNS_POLICY.unprivilegedCloneZero.message, fix: USERNS_POLICY.unprivilegedCloneZero.fix });
  } else if (clone !== undefined) {
    checks.push({ name: 'unprivileged_userns_clone', status: 'ok', message: `kernel.unprivileged_userns_clone = ${clone}` });
  }

  const apparmor = sysctl(host, 'kernel.apparmor_restrict_unprivileged_userns');
  if (apparmor === '1') {
    const profile = profileFor(host, host.nodePath);
    if (profile !== undefined) {
      checks.push({ name: 'apparmor_userns', status: 'ok', message: `AppArmor restricts unprivileged user namespaces, and ${profile} allows them for ${host.nodePath}` });
    } else {
      checks.push({
        name: 'apparmor_userns',
        status: 'fail',
        message: `${USERNS_POLICY.apparmorRestricted.message}; ${host.nodePath} has no such profile`,
        fix: [
          `# either a profile for the program that creates the namespace (${host.nodePath}):`,
          "sudo tee /etc/apparmor.d/rootless-node <<'EOF'",
          apparmorProfile(host.nodePath),
          'EOF',
          'sudo apparmor_parser -r /etc/apparmor.d/rootless-node',
          '# or lift the restriction for every program:',
          'sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 && echo kernel.apparmor_restrict_unprivileged_userns=0 | sudo tee /etc/sysctl.d/90-userns.conf',
        ].join('\n'),
      });
    }
  } else if (apparmor !== undefined) {
    checks.push({ name: 'apparmor_userns', status: 'ok', message: `kernel.apparmor_restrict_unprivileged_userns = ${apparmor}` });
  }
  return checks;
}
