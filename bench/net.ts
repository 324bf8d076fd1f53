// bench/net: throughput of the network drivers and the start-up cost of a
// networked session, against RootlessKit 1.1.0 (Debian's rootlesskit) with
// the same driver in the same run, and the host's own loopback (the
// physical limit).
//
//   npm run bench:net -- [--runs N] [--seconds S] [--start-runs N] [--out FILE]
//
// Throughput: iperf3 from inside the namespace to an iperf3 server on the
// host's loopback, reached through the gateway (10.0.2.2). Each round runs
// every configuration once, in turn; figures are medians over the rounds.
// Start-up: `run --net=slirp4netns --copy-up=/etc --disable-host-loopback
// -- true` against RootlessKit's, alternating. Run as root, it runs
// everything as the test user (scripts/setup-test-env.sh). Port 21500.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { BIN, userEnv } from '../test/helpers/rootless.js';
import { benchUser, fmt, median, spawnOpts, table, timeOnce } from './common.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) || dflt : dflt;
};
const rounds = opt('--runs', 5);
const seconds = opt('--seconds', 5);
const startRuns = opt('--start-runs', 30);
const outFile = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
const user = benchUser();
const PORT = 21500;

interface Config {
  name: string;
  driver: string;
  mtu: string;
  launcher: 'rootless' | 'rootlesskit' | 'host';
  argv: string[];
}

const client = (host: string): string[] => ['iperf3', '-c', host, '-p', String(PORT), '-t', String(seconds), '-J'];
const configs: Config[] = [
  { name: 'host loopback', driver: '(none)', mtu: '65536', launcher: 'host', argv: client('127.0.0.1') },
];
for (const mtu of ['1500', '65520']) {
  configs.push(
    { name: `rootless slirp4netns mtu ${mtu}`, driver: 'slirp4netns', mtu, launcher: 'rootless', argv: [BIN, 'run', '--net=slirp4netns', `--mtu=${mtu}`, '--', ...client('10.0.2.2')] },
    { name: `rootlesskit slirp4netns mtu ${mtu}`, driver: 'slirp4netns', mtu, launcher: 'rootlesskit', argv: ['rootlesskit', '--net=slirp4netns', `--mtu=${mtu}`, ...client('10.0.2.2')] },
  );
}
configs.push({ name: 'rootless pasta mtu 65520', driver: 'pasta', mtu: '65520', launcher: 'rootless', argv: [BIN, 'run', '--net=pasta', '--mtu=65520', '--', ...client('10.0.2.2')] });

function gbps(argv: string[]): number {
  const r = spawnSync(argv[0]!, argv.slice(1), { ...spawnOpts(user, { NODE_EXTRA_CA_CERTS: undefined }), stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: (seconds + 60) * 1000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  const json = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return json.end.sum_received.bits_per_second / 1e9;
}

const lines: string[] = [];
const say = (s = ''): void => {
  lines.push(s);
  process.stdout.write(`${s}\n`);
};

// --- throughput ---------------------------------------------------------
const server = spawn('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(PORT)], {
  env: userEnv(user), stdio: 'ignore',
  ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
});
await new Promise((r) => setTimeout(r, 500));
const samples = new Map<string, number[]>(configs.map((c) => [c.name, []]));
try {
  for (let i = 0; i < rounds; i++) {
    for (const c of configs) samples.get(c.name)!.push(gbps(c.argv));
    process.stderr.write(`round ${i + 1}/${rounds} done\n`);
  }
} finally {
  server.kill('SIGTERM');
}
const med = new Map([...samples].map(([n, xs]) => [n, median(xs)]));
const hostGbps = med.get('host loopback')!;
say(`## Throughput (iperf3 -t ${seconds}, namespace -> host's loopback via 10.0.2.2; median of ${rounds} alternating rounds, Gbit/s)`);
say();
const rows: (string | number)[][] = [['host loopback (direct)', '-', fmt(hostGbps, 2), '-', '1.00']];
for (const mtu of ['1500', '65520']) {
  const ours = med.get(`rootless slirp4netns mtu ${mtu}`)!;
  const theirs = med.get(`rootlesskit slirp4netns mtu ${mtu}`)!;
  rows.push([`slirp4netns, MTU ${mtu}`, fmt(theirs, 2), fmt(ours, 2), fmt(ours / theirs, 2), fmt(ours / hostGbps, 3)]);
}
const pastaGbps = med.get('rootless pasta mtu 65520')!;
rows.push(['pasta, MTU 65520', 'n/a (RootlessKit 1.1.0 has no pasta driver)', fmt(pastaGbps, 2), '-', fmt(pastaGbps / hostGbps, 3)]);
say(table(['driver', 'rootlesskit 1.1.0', 'rootless', 'rootless x rootlesskit', 'rootless x host loopback'], rows));
say();
say(`All samples (Gbit/s): ${[...samples].map(([n, xs]) => `${n}: ${xs.map((x) => x.toFixed(2)).join(' ')}`).join('; ')}`);
say();

// --- start-up -------------------------------------------------------------
const startFlags = ['--net=slirp4netns', '--copy-up=/etc', '--disable-host-loopback'];
const sopts = spawnOpts(user, { NODE_EXTRA_CA_CERTS: undefined });
let copyUp = true;
try {
  timeOnce([BIN, 'run', ...startFlags, '--', 'true'], sopts);
} catch (err) {
  if (!/copy-up/.test(String(err))) throw err;
  copyUp = false;
}
const flags = copyUp ? startFlags : startFlags.filter((f) => f !== '--copy-up=/etc');
const starts: [string, string[]][] = [
  [`rootless run ${flags.join(' ')} -- true`, [BIN, 'run', ...flags, '--', 'true']],
  [`rootlesskit ${flags.join(' ')} true`, ['rootlesskit', ...flags, 'true']],
  ['rootless run -- true', [BIN, 'run', '--', 'true']],
  ['rootlesskit true', ['rootlesskit', 'true']],
];
for (const [, argv] of starts) timeOnce(argv, sopts);
const times = new Map<string, number[]>(starts.map(([n]) => [n, []]));
for (let i = 0; i < startRuns; i++) for (const [n, argv] of starts) times.get(n)!.push(timeOnce(argv, sopts));
const tmed = new Map([...times].map(([n, xs]) => [n, median(xs)]));
const rkNet = tmed.get(starts[1]![0])!;
const rkPlain = tmed.get('rootlesskit true')!;
say(`## Start-up with slirp4netns (median of ${startRuns} alternating runs, ms)${copyUp ? '' : ' -- WITHOUT --copy-up=/etc: not built in this tree yet'}`);
say();
// Each against RootlessKit with the same flags: the networked pair, then the plain pair.
say(table(['command', 'median ms', 'x rootlesskit (same flags)'], starts.map(([n], i) => {
  const base = i < 2 ? rkNet : rkPlain;
  return [n, fmt(tmed.get(n)!), fmt(tmed.get(n)! / base, 2)];
})));
say();
const ours = tmed.get(starts[0]![0])! - tmed.get('rootless run -- true')!;
say(`Network's share of the start: rootless +${fmt(ours)} ms over its own \`run -- true\`, RootlessKit +${fmt(rkNet - rkPlain)} ms over \`rootlesskit true\`.`);
if (outFile) writeFileSync(outFile, `${lines.join('\n')}\n`);
