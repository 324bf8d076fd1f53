// What long-running and resource-limited sessions need: cgroup v2 with
// controllers delegated to the user, low ports, XDG_RUNTIME_DIR and
// lingering. None is required for `rootless run -- CMD`: all are warnings.
import type { Check, Host } from './types.js';

const DELEGATE_FIX = [
  'sudo mkdir -p /etc/systemd/system/user@.service.d',
  "printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf",
  'sudo systemctl daemon-reload   # then log out and in again',
].join('\n');

/** The cgroup v2 mount point from /proc/self/mountinfo (field 9 is the fs type), or undefined. */
function cgroup2Mount(host: Host): string | undefined {
  for (const line of (host.read('/proc/self/mountinfo') ?? '').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre?.split(' ')[4];
  }
  return undefined;
}

export function cgroupChecks(host: Host): Check[] {
  const mount = cgroup2Mount(host);
  if (mount !== '/sys/fs/cgroup') {
    const where = mount === undefined ? 'cgroup v2 is not mounted' : `only a hybrid cgroup v2 at ${mount}; /sys/fs/cgroup is cgroup v1`;
    return [{
      name: 'cgroup2',
      status: 'warn',
      message: `${where}: --cgroupns, --evacuate-cgroup2 and resource limits in the session need the unified hierarchy`,
      fix: [
        '# Debian/Ubuntu: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, then:',
        'sudo update-grub && sudo reboot',
        '# Fedora:',
        'sudo grubby --update-kernel=ALL --args=systemd.unified_cgroup_hierarchy=1 && sudo reboot',
      ].join('\n'),
    }];
  }
  const checks: Check[] = [{ name: 'cgroup2', status: 'ok', message: 'cgroup v2 is mounted at /sys/fs/cgroup' }];
  const own = /^0::(\/.*)$/m.exec(host.read('/proc/self/cgroup') ?? '')?.[1];
  // Under systemd, the user's delegated subtree is user@UID.service; elsewhere, our own cgroup.
  const service = `/sys/fs/cgroup/user.slice/user-${host.uid}.slice/user@${host.uid}.service`;
  const dir = host.stat(service)?.kind === 'dir' ? service : own === undefined ? undefined : `/sys/fs/cgroup${own === '/' ? '' : own}`;
  const st = dir === undefined ? undefined : host.stat(dir);
  const controllers = dir === undefined ? '' : (host.read(`${dir}/cgroup.controllers`) ?? '').trim();
  if (dir === undefined || st === undefined || st.uid !== host.uid) {
    checks.push({
      name: 'cgroup_delegation',
      status: 'warn',
      message: `no cgroup is delegated to you${dir === undefined ? '' : ` (${dir} belongs to uid ${st?.uid ?? '?'})`}: the session cannot limit resources or make child cgroups`,
      fix: `# log in through systemd (ssh, or machinectl shell ${host.user ?? 'USER'}@) for a user@.service, and delegate controllers to it:\n${DELEGATE_FIX}`,
    });
    return checks;
  }
  const wanted = ['cpu', 'memory', 'pids', 'io'];
  const have = controllers.split(/\s+/).filter((c) => c !== '');
  const missing = wanted.filter((c) => !have.includes(c));
  checks.push(
    missing.length === 0
      ? { name: 'cgroup_delegation', status: 'ok', message: `${dir} is yours with controllers: ${have.join(' ')}` }
      : { name: 'cgroup_delegation', status: 'warn', message: `${dir} is yours but lacks the controllers ${missing.join(' ')} (has: ${have.join(' ') || 'none'})`, fix: DELEGATE_FIX },
  );
  return checks;
}

export function portCheck(host: Host): Check {
  const v = host.read('/proc/sys/net/ipv4/ip_unprivileged_port_start')?.trim();
  const start = v === undefined ? 1024 : Number(v);
  if (start <= 0) return { name: 'unprivileged_ports', status: 'ok', message: 'net.ipv4.ip_unprivileged_port_start = 0: any port can be published' };
  return {
    name: 'unprivileged_ports',
    status: 'warn',
    message: `net.ipv4.ip_unprivileged_port_start = ${v ?? '(absent, 1024)'}: host ports below ${start} cannot be published (-p 80:80 fails; -p 8080:80 works)`,
    fix: 'sudo sysctl -w net.ipv4.ip_unprivileged_port_start=0 && echo net.ipv4.ip_unprivileged_port_start=0 | sudo tee /etc/sysctl.d/90-unprivileged-ports.conf',
  };
}

export function runtimeDirCheck(host: Host): Check {
  const dir = host.env.XDG_RUNTIME_DIR;
  const fix = `# log in through a PAM session (ssh, login, machinectl shell ${host.user ?? 'USER'}@), or:\nexport XDG_RUNTIME_DIR=/run/user/$(id -u)   # it must exist, be yours and mode 0700`;
  if (dir === undefined || dir === '') {
    return { name: 'xdg_runtime_dir', status: 'warn', message: `XDG_RUNTIME_DIR is not set: state dirs go under /tmp (named sessions: /tmp/rootless-${host.uid})`, fix };
  }
  const st = host.stat(dir);
  if (st === undefined || st.kind !== 'dir') return { name: 'xdg_runtime_dir', status: 'warn', message: `XDG_RUNTIME_DIR=${dir} does not exist`, fix };
  if (st.uid !== host.uid) return { name: 'xdg_runtime_dir', status: 'warn', message: `XDG_RUNTIME_DIR=${dir} belongs to uid ${st.uid}, not to you`, fix };
  if ((st.mode & 0o077) !== 0) {
    return { name: 'xdg_runtime_dir', status: 'warn', message: `XDG_RUNTIME_DIR=${dir} is mode ${(st.mode & 0o777).toString(8)}: others can reach it`, fix: `chmod 0700 ${dir}` };
  }
  return { name: 'xdg_runtime_dir', status: 'ok', message: `XDG_RUNTIME_DIR=${dir} is yours, mode 0700` };
}

export function lingerCheck(host: Host): Check {
  const user = host.user ?? String(host.uid);
  if (host.stat('/run/systemd/system')?.kind !== 'dir') {
    return { name: 'linger', status: 'ok', message: 'systemd is not the init system: no user units, nothing to linger' };
  }
  if (host.stat(`/var/lib/systemd/linger/${user}`) !== undefined) {
    return { name: 'linger', status: 'ok', message: `lingering is enabled for ${user}: user units outlive the login` };
  }
  return {
    name: 'linger',
    status: 'warn',
    message: `lingering is off for ${user}: systemd user units (e.g. rootless Docker) stop when your last login ends`,
    fix: `sudo loginctl enable-linger ${user}`,
  };
}
