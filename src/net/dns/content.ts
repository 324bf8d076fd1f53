// The session's resolv.conf and hosts: what the target sees in /etc once
// it has its own network namespace (the host's nameserver, often a
// loopback address, means nothing there).

export function resolvConf(nameservers: readonly string[]): string {
  return nameservers.map((ns) => `nameserver ${ns}\n`).join('');
}

/**
 * localhost and the host name on loopback first (the resolver takes the
 * first match, so the host name does not resolve to the host's own
 * address, unreachable from inside), then the host's entries.
 */
export function hostsFile(hostname: string, hostHosts: string | undefined): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  if (hostname !== '' && hostname !== 'localhost') lines.push(`127.0.0.1\t${hostname}`, `::1\t${hostname}`);
  let out = `${lines.join('\n')}\n`;
  if (hostHosts !== undefined && hostHosts.trim() !== '') {
    out += `\n# from the host's /etc/hosts\n${hostHosts.endsWith('\n') ? hostHosts : `${hostHosts}\n`}`;
  }
  return out;
}
