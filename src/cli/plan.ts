// Validated flags -> the parent's LaunchPlan. The only place that knows
// both: below the CLI, nothing sees RunOptions.
import type { LaunchPlan } from '../parent/plan.js';
import type { ValidRunOptions } from './options.js';

/** `command`: the bytes of o.command as the caller gave them (sys/caller.ts callerArgv); default their UTF-8. */
export function planLaunch(o: ValidRunOptions, command: readonly Buffer[] = o.command.map((a) => Buffer.from(a))): LaunchPlan {
  return {
    command: [...command],
    stateDir: o.stateDir,
    name: o.name,
    subidSource: o.subidSource,
    propagation: o.propagation,
    pidns: o.pidns,
    cgroupns: o.cgroupns,
    utsns: o.utsns,
    ipcns: o.ipcns,
    reaper: o.pidns && o.reaper !== 'false',
    evacuateCgroup2: o.evacuateCgroup2,
    copyUp: [...o.copyUp],
    keepOrphans: o.keepOrphans,
    network: {
      driver: o.net,
      mtu: o.mtu,
      cidr: o.cidr,
      ifname: o.ifname,
      disableHostLoopback: o.disableHostLoopback,
      ipv6: o.ipv6,
      detachNetns: o.detachNetns,
      slirp4netnsBinary: o.slirp4netnsBinary,
      slirp4netnsSandbox: o.slirp4netnsSandbox,
      slirp4netnsSeccomp: o.slirp4netnsSeccomp,
      pastaBinary: o.pastaBinary,
    },
    ports: { driver: o.portDriver, publish: o.publishSpecs, sourceIPTransparent: o.sourceIPTransparent },
  };
}
