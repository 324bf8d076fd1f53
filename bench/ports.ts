// bench/ports: port forwarding from the host into the namespace.
//
//   npm run build:ts && node dist/bench/ports.js [--quick] [--out FILE]
//
// - TCP throughput: iperf3 host -> namespace (10 s, median of 3) through our
//   builtin, slirp4netns and implicit (pasta) drivers, RootlessKit 1.1.0's
//   builtin and slirp4netns drivers, and the host's direct loopback.
// - Connections per second: ab (one short HTTP request per connection,
//   concurrency 1 and 8) against a small HTTP server inside, and the
//   forwarder's CPU seconds per 1000 connections (utime+stime of the
//   launcher's parent and child processes, from /proc/PID/stat).
// - UDP: iperf3 -u at 200 Mbit/s and unlimited: throughput and loss.
//
// --srcip: only what --source-ip-transparent costs: our builtin driver
// with it on and off, RootlessKit's builtin and the direct path, all
// reached at the host's own non-loopback address (inside, that client is a
// remote address: its answers take the rules the option sets up), 5 rounds.
//
// Every session runs for the whole benchmark; measurements alternate
// between them in each round. Run as root, everything runs as the test user
// (scripts/setup-test-env.sh). Host ports 22900-22999.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, userEnv } from '../test/helpers/rootless.js';
import { benchUser, fmt, median, table } from './common.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outFile = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;
/** ROOTLESS_PORT_WORKERS for our sessions (relay threads of the builtin driver). */
const workers = args.includes('--workers') ? args[args.indexOf('--workers') + 1] : undefined;
const srcip = args.includes('--srcip');
const SECONDS = quick ? 3 : 10;
const ROUNDS = quick ? 1 : srcip ? 5 : 3;
/** The host's first non-loopback IPv4 address (--srcip). */
const HOST_IP = Object.values(networkInterfaces()).flat().find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;
if (srcip && HOST_IP === undefined) throw new Error('--srcip needs a non-loopback IPv4 address on the host');
const AB_N = quick ? 2000 : 10000;
const user = benchUser();
const CLK_TCK = 100;

const INNER_IPERF = 5201;
const INNER_HTTP = 8080;
// A tiny HTTP server: one short answer per request, no keep-alive.
const HTTP_SERVER = `require('http').createServer((q,s)=>{s.setHeader('Connection','close');s.end('ok\\n')}).listen(${INNER_HTTP},'0.0.0.0',()=>console.log('http-ready'))`;

function run(argv: string[], extra: { input?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    env: userEnv(user),
    cwd: '/tmp',
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    ...(extra.input !== undefined ? { input: extra.input } : {}),
    ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

interface Setup {
  name: string;
  /** The address clients connect to. */
  host: string;
  /** Host ports: iperf3 (tcp+udp) and http. */
  iperfPort: number;
  httpPort: number;
  udp: boolean;
  /** Processes whose CPU is the forwarder's. */
  pids(): number[];
  stop(): Promise<void>;
}

async function waitLine(proc: ChildProcess, re: RegExp, ms: number, what: string): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no ${re} in ${ms} ms: ${seen}`)), ms);
    const on = (d: Buffer): void => {
      seen += d.toString();
      if (re.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', (d: Buffer) => (seen += d.toString()));
    proc.on('exit', (code) => reject(new Error(`${what} exited (${code}): ${seen}`)));
  });
}

/** A session (ours or RootlessKit's) whose target runs iperf3 -s and the HTTP server. */
async function session(name: string, launcher: 'rootless' | 'rootlesskit', flags: string[], base: number, udp: boolean, host = '127.0.0.1'): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'rootless-bench-ports-'));
  if (user.switchTo) chownSync(dir, user.uid, user.gid);
  const stateDir = join(dir, 'state');
  const iperfPort = base;
  const httpPort = base + 1;
  const publish = [`${host}:${iperfPort}:${INNER_IPERF}/tcp`, `${host}:${httpPort}:${INNER_HTTP}/tcp`, ...(udp ? [`${host}:${iperfPort}:${INNER_IPERF}/udp`] : [])];
  // iperf3 dies with the HTTP server (PDEATHSIG), which dies with the session.
  const target = ['sh', '-c', `setpriv --pdeathsig KILL iperf3 -s -p ${INNER_IPERF} >/dev/null 2>&1 & exec node -e "${HTTP_SERVER}"`];
  const pflags = publish.flatMap((p) => ['-p', p]);
  const argv =
    launcher === 'rootless'
      ? [BIN, 'run', '--state-dir', stateDir, ...flags, ...pflags, '--', ...target]
      : ['rootlesskit', '--state-dir', stateDir, ...flags, ...pflags, ...target];
  const proc = spawn(argv[0]!, argv.slice(1), {
    env: userEnv(user, { NODE_EXTRA_CA_CERTS: undefined, ROOTLESS_PORT_WORKERS: workers }),
    cwd: '/tmp',
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
  });
  try {
    await waitLine(proc, /http-ready/, 60_000, name);
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  await new Promise((r) => setTimeout(r, 500)); // iperf3 -s is up by now
  const childPid = Number(readFileSync(join(stateDir, 'child_pid'), 'utf8'));
  return {
    name,
    host,
    iperfPort,
    httpPort,
    udp,
    pids: () => [proc.pid!, childPid],
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.on('close', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The host's own loopback: iperf3 -s and the HTTP server, no namespace. */
async function direct(base: number, host = '127.0.0.1'): Promise<Setup> {
  const iperf = spawn('iperf3', ['-s', '-B', host, '-p', String(base)], {
    env: userEnv(user),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
  });
  const http = spawn(process.execPath, ['-e', HTTP_SERVER.replace(`listen(${INNER_HTTP},'0.0.0.0'`, `listen(${base + 1},'${host}'`)], {
    env: userEnv(user),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
  });
  try {
    await waitLine(http, /http-ready/, 30_000, 'direct http');
    await new Promise((r) => setTimeout(r, 500)); // iperf3 -s is up by now
  } catch (err) {
    iperf.kill();
    http.kill();
    throw err;
  }
  return {
    name: 'direct loopback',
    host,
    iperfPort: base,
    httpPort: base + 1,
    udp: true,
    pids: () => [],
    stop: async () => {
      for (const p of [iperf, http]) {
        p.kill('SIGTERM');
        await new Promise((r) => p.on('close', r));
      }
    },
  };
}

interface IperfResult {
  gbps: number;
  lossPct: number;
}

function iperf(host: string, port: number, udpRate?: string, udpLength?: number): IperfResult {
  for (let attempt = 0; attempt < 3; attempt++) {
    const argv = ['iperf3', '-c', host, '-p', String(port), '-t', String(SECONDS), '-J', ...(udpRate !== undefined ? ['-u', '-b', udpRate] : []), ...(udpLength !== undefined ? ['-l', String(udpLength)] : [])];
    const r = run(argv);
    try {
      const j = JSON.parse(r.stdout) as {
        error?: string;
        end: { sum_received?: { bits_per_second: number; lost_percent?: number }; sum?: { bits_per_second: number; lost_percent: number } };
      };
      if (j.error) throw new Error(j.error);
      // UDP: what the server received (end.sum is what was sent).
      if (udpRate !== undefined) return { gbps: j.end.sum_received!.bits_per_second / 1e9, lossPct: j.end.sum!.lost_percent };
      return { gbps: j.end.sum_received!.bits_per_second / 1e9, lossPct: 0 };
    } catch (err) {
      process.stderr.write(`iperf3 ${argv.join(' ')}: ${(err as Error).message} ${r.stderr}\n`);
      spawnSync('sleep', ['1']);
    }
  }
  return { gbps: NaN, lossPct: NaN };
}

interface AbResult {
  rps: number;
  cpuPer1000: number;
}

function ab(s: Setup, concurrency: number): AbResult {
  const before = s.pids().map(cpuSeconds);
  const r = run(['ab', '-q', '-n', String(AB_N), '-c', String(concurrency), '-s', '30', `http://${s.host}:${s.httpPort}/`]);
  const after = s.pids().map(cpuSeconds);
  const m = /Requests per second:\s+([\d.]+)/.exec(r.stdout);
  const failed = Number(/Failed requests:\s+(\d+)/.exec(r.stdout)?.[1] ?? 'NaN');
  if (!m || failed > 0) process.stderr.write(`ab against ${s.name}: ${failed} failed\n${r.stdout.slice(-400)}${r.stderr}\n`);
  const cpu = after.reduce((a, x, i) => a + (x - before[i]!), 0);
  return { rps: m ? Number(m[1]) : NaN, cpuPer1000: s.pids().length > 0 ? (cpu / AB_N) * 1000 : NaN };
}

// --- the setups ---------------------------------------------------------------

const have = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
for (const bin of ['iperf3', 'ab']) if (!have(bin)) throw new Error(`${bin} is missing: run scripts/setup-test-env.sh`);

const setups: Setup[] = [];
const log = (s: string): void => void process.stderr.write(`${s}\n`);
try {
  if (srcip) {
    log(`clients connect to ${HOST_IP}`);
    setups.push(await direct(22990, HOST_IP));
    setups.push(await session('rootless builtin', 'rootless', ['--net=slirp4netns', '--port-driver=builtin'], 22900, true, HOST_IP));
    setups.push(await session('rootless builtin, source ip off', 'rootless', ['--net=slirp4netns', '--port-driver=builtin', '--source-ip-transparent=false'], 22950, true, HOST_IP));
    setups.push(await session('rootlesskit builtin', 'rootlesskit', ['--net=slirp4netns', '--port-driver=builtin'], 22910, true, HOST_IP));
  } else {
    setups.push(await direct(22990));
    setups.push(await session('rootless builtin', 'rootless', ['--net=slirp4netns', '--port-driver=builtin'], 22900, true));
    setups.push(await session('rootlesskit builtin', 'rootlesskit', ['--net=slirp4netns', '--port-driver=builtin'], 22910, true));
    setups.push(await session('rootless slirp4netns', 'rootless', ['--net=slirp4netns', '--port-driver=slirp4netns'], 22920, true));
    setups.push(await session('rootlesskit slirp4netns', 'rootlesskit', ['--net=slirp4netns', '--port-driver=slirp4netns'], 22930, true));
    // pasta's loopback UDP path loses replies on this machine (see ports.test.ts): TCP only.
    if (have('pasta')) setups.push(await session('rootless implicit (pasta)', 'rootless', ['--net=pasta', '--port-driver=implicit'], 22940, false));
    else log('pasta missing: the implicit driver is not measured');
  }

  const tcp = new Map<string, number[]>();
  const udp200 = new Map<string, IperfResult[]>();
  const udpMax = new Map<string, IperfResult[]>();
  const udpSmall = new Map<string, IperfResult[]>();
  const ab1 = new Map<string, AbResult[]>();
  const ab8 = new Map<string, AbResult[]>();
  const push = <T>(m: Map<string, T[]>, k: string, v: T): void => void (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  const abSetups = setups.filter((s) => s.name === 'direct loopback' || s.name.includes('builtin'));

  for (let round = 0; round < ROUNDS; round++) {
    for (const s of setups) {
      log(`round ${round + 1}: ${s.name} tcp`);
      push(tcp, s.name, iperf(s.host, s.iperfPort).gbps);
    }
    for (const s of setups.filter((x) => x.udp)) {
      log(`round ${round + 1}: ${s.name} udp`);
      push(udp200, s.name, iperf(s.host, s.iperfPort, '200M'));
      push(udpMax, s.name, iperf(s.host, s.iperfPort, '0'));
      push(udpSmall, s.name, iperf(s.host, s.iperfPort, '0', 1400));
    }
    for (const s of abSetups) {
      log(`round ${round + 1}: ${s.name} ab`);
      push(ab1, s.name, ab(s, 1));
      push(ab8, s.name, ab(s, 8));
    }
  }

  const lines: string[] = [];
  const say = (s = ''): void => {
    lines.push(s);
    process.stdout.write(`${s}\n`);
  };
  const med = (xs: number[]): number => median(xs.filter(Number.isFinite));
  const directTcp = med(tcp.get('direct loopback')!);
  const rkTcp = med(tcp.get('rootlesskit builtin')!);
  say(`### TCP throughput, iperf3 host -> namespace (${SECONDS} s, median of ${ROUNDS})`);
  say();
  say(
    table(
      ['path', 'Gbit/s', 'x direct loopback', 'x rootlesskit builtin'],
      setups.map((s) => {
        const g = med(tcp.get(s.name)!);
        return [s.name, fmt(g, 2), fmt(g / directTcp, 2), fmt(g / rkTcp, 2)];
      }),
    ),
  );
  say();
  const d1 = med(ab1.get('direct loopback')!.map((r) => r.rps));
  const d8 = med(ab8.get('direct loopback')!.map((r) => r.rps));
  const rk1 = med(ab1.get('rootlesskit builtin')!.map((r) => r.rps));
  const rk8 = med(ab8.get('rootlesskit builtin')!.map((r) => r.rps));
  say(`### Connections per second (ab -n ${AB_N}, one HTTP request per connection; CPU = forwarder's parent+child utime+stime)`);
  say();
  say(
    table(
      ['path', 'conn/s c=1', 'x direct', 'x rootlesskit', 'conn/s c=8', 'x direct', 'x rootlesskit', 'CPU s / 1000 conns (c=1)', 'CPU s / 1000 conns (c=8)'],
      abSetups.map((s) => {
        const r1 = med(ab1.get(s.name)!.map((r) => r.rps));
        const r8 = med(ab8.get(s.name)!.map((r) => r.rps));
        return [
          s.name, fmt(r1, 0), fmt(r1 / d1, 2), fmt(r1 / rk1, 2), fmt(r8, 0), fmt(r8 / d8, 2), fmt(r8 / rk8, 2),
          fmt(med(ab1.get(s.name)!.map((r) => r.cpuPer1000)), 3), fmt(med(ab8.get(s.name)!.map((r) => r.cpuPer1000)), 3),
        ];
      }),
    ),
  );
  say();
  const rkUdp = med(udpMax.get('rootlesskit builtin')!.map((r) => r.gbps));
  const rkUdpSmall = med(udpSmall.get('rootlesskit builtin')!.map((r) => r.gbps));
  say(`### UDP, iperf3 -u host -> namespace (${SECONDS} s, median of ${ROUNDS}; iperf3's default datagram size; received throughput and loss)`);
  say();
  say(
    table(
      ['path', '200 Mbit/s: Mbit/s', 'loss %', 'unlimited: Gbit/s', 'loss %', 'x rootlesskit builtin', 'unlimited, 1400 B: Gbit/s', 'loss %', 'x rootlesskit builtin'],
      setups
        .filter((s) => s.udp)
        .map((s) => {
          const a = udp200.get(s.name)!;
          const b = udpMax.get(s.name)!;
          const c = udpSmall.get(s.name)!;
          const g = med(b.map((r) => r.gbps));
          const gs = med(c.map((r) => r.gbps));
          return [
            s.name, fmt(med(a.map((r) => r.gbps)) * 1000, 0), fmt(med(a.map((r) => r.lossPct)), 2),
            fmt(g, 2), fmt(med(b.map((r) => r.lossPct)), 1), fmt(g / rkUdp, 2),
            fmt(gs, 2), fmt(med(c.map((r) => r.lossPct)), 1), fmt(gs / rkUdpSmall, 2),
          ];
        }),
    ),
  );
  if (srcip) {
    const on = 'rootless builtin';
    const off = 'rootless builtin, source ip off';
    const ratio = (m: Map<string, number[]>): string => fmt(med(m.get(on)!) / med(m.get(off)!), 3);
    const g = (m: Map<string, IperfResult[]>): Map<string, number[]> => new Map([...m].map(([k, v]) => [k, v.map((r) => r.gbps)]));
    const r = (m: Map<string, AbResult[]>): Map<string, number[]> => new Map([...m].map(([k, v]) => [k, v.map((x) => x.rps)]));
    say();
    say('### --source-ip-transparent on / off (medians)');
    say();
    say(table(['TCP Gbit/s', 'conn/s c=1', 'conn/s c=8', 'UDP 200 Mbit/s', 'UDP unlimited', 'UDP unlimited 1400 B'], [[ratio(tcp), ratio(r(ab1)), ratio(r(ab8)), ratio(g(udp200)), ratio(g(udpMax)), ratio(g(udpSmall))]]));
  }
  if (outFile) writeFileSync(outFile, `${lines.join('\n')}\n`);
} finally {
  for (const s of setups) await s.stop().catch(() => {});
}
