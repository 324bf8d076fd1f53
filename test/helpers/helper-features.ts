// What slirp4netns 1.2.0 and pasta 2023-03 (Debian 12) list in --help,
// abridged to the options rootless uses: the features the net drivers'
// argument builders are given in unit tests.
import type { ProgramFeatures } from '../../src/net/probe.js';

export const SLIRP: ProgramFeatures = {
  version: 'slirp4netns version 1.2.0',
  options: ['--api-socket', '--cidr', '--configure', '--disable-host-loopback', '--enable-ipv6', '--enable-sandbox', '--enable-seccomp',
    '--exit-fd', '--mtu', '--netns-type', '--ready-fd', '--userns-path'],
};

export const PASTA: ProgramFeatures = {
  version: 'pasta unknown version',
  options: ['--address', '--config-net', '--dns-forward', '--foreground', '--gateway', '--ipv4-only', '--mtu', '--netmask', '--netns',
    '--no-map-gw', '--ns-ifname', '--pid', '--stderr', '--tcp-ns', '--tcp-ports', '--udp-ns', '--udp-ports', '--userns'],
};
