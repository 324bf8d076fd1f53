// rootless doctor against fake roots (test/fixtures/doctor/): the branches
// this machine cannot show. The real machine is tested in test/e2e/doctor.test.ts.
import test from 'ava';
import { runDoctor } from '../../src/doctor/index.js';
import { reportJson, reportText } from '../../src/doctor/report.js';
import { trialCheck } from '../../src/doctor/trial.js';
import type { Check } from '../../src/doctor/types.js';
import { parseAllSubIdRanges } from '../../src/parent/subid.js';
import { fixtureHost, fixtureNames } from '../helpers/doctor-host.js';

async function checks(name: string): Promise<{ ok: boolean; by: (n: string) => Check; all: Check[] }> {
  const r = await runDoctor(fixtureHost(name));
  return {
    ok: r.ok,
    all: r.checks,
    by: (n) => {
      const c = r.checks.find((x) => x.name === n);
      if (!c) throw new Error(`no check ${n} in ${name}: ${r.checks.map((x) => x.name).join(' ')}`);
      return c;
    },
  };
}

const notOk = (all: Check[]): string[] => all.filter((c) => c.status !== 'ok').map((c) => `${c.name}:${c.status}`);

/** Parses "A-B" out of a usermod line and checks it against every range of both files. */
function assertFree(t: import('ava').ExecutionContext, fix: string, files: string[]): [number, number] {
  const m = /--add-subuids (\d+)-(\d+) --add-subgids \1-\2 /.exec(fix) ?? /--add-sub[ug]ids (\d+)-(\d+) /.exec(fix);
  if (!m) throw new Error(`no range in ${fix}`);
  const [a, b] = [Number(m[1]), Number(m[2])];
  t.is(b - a + 1, 65536);
  for (const text of files) for (const r of parseAllSubIdRanges(text)) t.false(a < r.start + r.count && r.start <= b, `${a}-${b} overlaps ${r.owner} ${r.start}+${r.count}`);
  return [a, b];
}

test('a ready machine: every check ok, the report says ready, exit status ok', async (t) => {
  const r = await checks('base');
  t.deepEqual(notOk(r.all), []);
  t.true(r.ok);
  t.regex(r.by('slirp4netns').message, /version 1\.2\.0; sandbox yes, seccomp yes, IPv6 yes/);
  t.regex(r.by('cgroup_delegation').message, /user@1000\.service is yours with controllers: cpu io memory pids/);
  t.regex(r.by('linger').message, /enabled for alice/);
});

test('every fixture differs from the ready machine somewhere (no fixture tests nothing)', async (t) => {
  for (const name of fixtureNames()) {
    if (name === 'ubuntu-apparmor-profile' || name === 'subids-getsubids') continue; // ready machines reached another way
    t.notDeepEqual(notOk((await checks(name)).all), [], name);
  }
});

test('AppArmor restriction (Ubuntu 24.04+): fail, with what it blocks, the profile for node and the sysctl', async (t) => {
  const r = await checks('ubuntu-apparmor');
  const c = r.by('apparmor_userns');
  t.is(c.status, 'fail');
  t.false(r.ok);
  t.regex(c.message, /apparmor_restrict_unprivileged_userns = 1.*without capabilities.*\/usr\/bin\/node has no such profile/);
  t.regex(c.fix!, /profile rootless-node \/usr\/bin\/node flags=\(unconfined\) \{\n {2}userns,\n/);
  t.regex(c.fix!, /apparmor_parser -r \/etc\/apparmor\.d\/rootless-node/);
  t.regex(c.fix!, /sysctl -w kernel\.apparmor_restrict_unprivileged_userns=0/);
});

test('AppArmor restriction with a profile that allows userns for this node: ok', async (t) => {
  const c = (await checks('ubuntu-apparmor-profile')).by('apparmor_userns');
  t.is(c.status, 'ok');
  t.regex(c.message, /\/etc\/apparmor\.d\/nodejs allows them for \/usr\/bin\/node/);
});

test('kernel.unprivileged_userns_clone=0 and user.max_user_namespaces=0: fail with the sysctl, worded as the launcher words it', async (t) => {
  const clone = (await checks('userns-clone-off')).by('unprivileged_userns_clone');
  t.is(clone.status, 'fail');
  t.regex(clone.message, /kernel\.unprivileged_userns_clone is 0/);
  t.regex(clone.fix!, /sysctl -w kernel\.unprivileged_userns_clone=1/);
  const max = (await checks('userns-max-zero')).by('max_user_namespaces');
  t.is(max.status, 'fail');
  t.regex(max.message, /user namespaces are disabled: user\.max_user_namespaces is 0/);
  t.regex(max.fix!, /sysctl -w user\.max_user_namespaces=\d+/);
});

test('overlapping sub-uid range: fail naming the other user and line; the fix moves to a free range', async (t) => {
  const r = await checks('subids-overlap');
  const c = r.by('subuid');
  t.is(c.status, 'fail');
  t.regex(c.message, /150000-215535 overlaps alice's range 100000-165535 \(\/etc\/subuid:1\)/);
  t.regex(c.fix!, /^sudo usermod --del-subuids 150000-215535 bob$/m);
  const fix = c.fix!.split('\n').find((l) => l.includes('--add-subuids'))!;
  const [a] = assertFree(t, fix, [fixtureHost('subids-overlap').read('/etc/subuid')!, fixtureHost('subids-overlap').read('/etc/subgid')!]);
  t.is(a, 365536);
  t.is(r.by('subgid').status, 'ok');
});

test('a sub-id range that contains the user\'s own uid: fail', async (t) => {
  const c = (await checks('subids-own-uid')).by('subuid');
  t.is(c.status, 'fail');
  t.regex(c.message, /100000-165535 contains your own uid 100500/);
});

test('a range smaller than 65536: fail, with the count', async (t) => {
  const r = await checks('subids-small');
  t.is(r.by('subuid').status, 'fail');
  t.regex(r.by('subuid').message, /only 1000 ids \(100000-100999\)/);
  t.is(r.by('subgid').status, 'ok');
});

test('no sub-ids: fail, and the suggested range is free in both files (after every range)', async (t) => {
  const r = await checks('subids-none');
  const c = r.by('subuid');
  t.is(c.status, 'fail');
  t.false(r.ok);
  t.regex(c.message, /no sub-uid range for alice in \/etc\/subuid nor from getsubids/);
  const h = fixtureHost('subids-none');
  const [a] = assertFree(t, c.fix!, [h.read('/etc/subuid')!, h.read('/etc/subgid')!]);
  t.is(a, 465536);
  t.is(c.fix, 'sudo usermod --add-subuids 465536-531071 --add-subgids 465536-531071 alice');
  t.is(r.by('subgid').fix, c.fix);
});

test('ranges from getsubids (NSS) when the files have none: ok, origin named', async (t) => {
  const c = (await checks('subids-getsubids')).by('subuid');
  t.is(c.status, 'ok');
  t.is(c.message, '200000-265535 (65536 ids, getsubids)');
});

test('newuidmap neither set-uid nor capable: fail with chmod/setcap; newgidmap with cap_setgid: ok', async (t) => {
  const r = await checks('helpers-not-setuid');
  const u = r.by('newuidmap');
  t.is(u.status, 'fail');
  t.regex(u.message, /\/usr\/bin\/newuidmap is not set-uid root and has no file capabilities/);
  t.regex(u.fix!, /chmod u\+s \/usr\/bin\/newuidmap/);
  t.regex(u.fix!, /setcap cap_setuid\+ep \/usr\/bin\/newuidmap/);
  const g = r.by('newgidmap');
  t.is(g.status, 'ok');
  t.regex(g.message, /file capabilities \(cap_setgid=ep\)/);
});

test('uidmap not installed: fail, with the Debian/Ubuntu and the Fedora package', async (t) => {
  const c = (await checks('helpers-missing')).by('newuidmap');
  t.is(c.status, 'fail');
  t.regex(c.fix!, /Debian\/Ubuntu: sudo apt-get install uidmap\nFedora: +sudo dnf install shadow-utils/);
});

test('no_new_privs on the calling process: fail', async (t) => {
  const c = (await checks('no-new-privs')).by('no_new_privs');
  t.is(c.status, 'fail');
  t.regex(c.message, /no_new_privs is set/);
});

test('no /dev/net/tun and no slirp4netns: warnings (networking is optional), still ready', async (t) => {
  const r = await checks('no-tun');
  t.is(r.by('dev_net_tun').status, 'warn');
  t.regex(r.by('dev_net_tun').fix!, /modprobe tun/);
  t.is(r.by('slirp4netns').status, 'warn');
  t.regex(r.by('slirp4netns').fix!, /apt-get install slirp4netns\nFedora: +sudo dnf install slirp4netns/);
  t.true(r.ok);
});

test('/dev/net/tun 0600 root: warn, with the chmod and the udev rule', async (t) => {
  const c = (await checks('tun-root-only')).by('dev_net_tun');
  t.is(c.status, 'warn');
  t.regex(c.message, /mode 600/);
  t.regex(c.fix!, /^sudo chmod 0666 \/dev\/net\/tun$/m);
  t.regex(c.fix!, /KERNEL=="tun", MODE="0666".*\/etc\/udev\/rules\.d\//);
});

test('cgroup v1, ports below 1024, no XDG_RUNTIME_DIR, no lingering: warnings with their fixes', async (t) => {
  const r = await checks('cgroup-v1');
  t.deepEqual(notOk(r.all), ['cgroup2:warn', 'unprivileged_ports:warn', 'xdg_runtime_dir:warn', 'linger:warn']);
  t.regex(r.by('cgroup2').message, /cgroup v2 is not mounted/);
  t.regex(r.by('cgroup2').fix!, /grubby.*systemd\.unified_cgroup_hierarchy=1/);
  t.regex(r.by('unprivileged_ports').fix!, /sysctl -w net\.ipv4\.ip_unprivileged_port_start=0/);
  t.regex(r.by('xdg_runtime_dir').message, /not set/);
  t.is(r.by('linger').fix, 'sudo loginctl enable-linger alice');
  t.true(r.ok, 'none of these is required');
});

test('cgroup v2 with only memory and pids delegated: warn with the Delegate= drop-in', async (t) => {
  const c = (await checks('cgroup-undelegated')).by('cgroup_delegation');
  t.is(c.status, 'warn');
  t.regex(c.message, /lacks the controllers cpu io/);
  t.regex(c.fix!, /Delegate=cpu cpuset io memory pids/);
  t.regex(c.fix!, /user@\.service\.d\/delegate\.conf/);
});

test('the trial as a check: ok with the maps and time, warn with a single mapping, fail with the launcher\'s error', (t) => {
  const ok = trialCheck({ code: 0, signal: null, stdout: '         0       1001          1\n         1     100000      65536\n', stderr: '', ms: 181.4 });
  t.is(ok.status, 'ok');
  t.is(ok.message, 'rootless run made a user namespace with the sub-id maps in 181 ms (uid map: 0 1001 1, 1 100000 65536)');
  t.is(trialCheck({ code: 0, signal: null, stdout: '0 1002 1\n', stderr: 'rootless: warning: no sub-uid range\n', ms: 150 }).status, 'warn');
  const fail = trialCheck({ code: 125, signal: null, stdout: '', stderr: 'rootless: error: user namespaces are disabled: user.max_user_namespaces is 0; enable them\n', ms: 90 });
  t.is(fail.status, 'fail');
  t.regex(fail.message, /failed after 90 ms: user namespaces are disabled/);
});

test('the report: text has one line per check and indented fixes; JSON has the documented shape', async (t) => {
  const r = await runDoctor(fixtureHost('subids-none'));
  const text = reportText(r, 'alice (uid 1000)');
  const lines = text.trimEnd().split('\n');
  t.is(lines[0], 'rootless doctor: checking this machine for alice (uid 1000)');
  for (const c of r.checks) t.true(lines.some((l) => l.startsWith(`${c.status.padEnd(4)}  ${c.name} `)), c.name);
  t.regex(text, /\n {2,}fix: sudo usermod --add-subuids 465536-531071/);
  t.regex(lines.at(-1)!, /^not ready: 2 checks failed/);
  const doc = JSON.parse(reportJson(r)) as { ok: unknown; checks: Array<Record<string, unknown>> };
  t.is(doc.ok, false);
  for (const c of doc.checks) {
    t.deepEqual(Object.keys(c).filter((k) => !['name', 'status', 'message', 'fix'].includes(k)), []);
    t.true(['ok', 'warn', 'fail'].includes(c.status as string));
    t.is(typeof c.name, 'string');
    t.is(typeof c.message, 'string');
  }
});
