// bench/relay-fds: the launcher's file descriptors per relayed TCP
// connection (builtin port driver), and how many connections one session
// holds before its fd limit stops it.
//
//   npm run build:ts && node dist/bench/relay-fds.js [--conns N] [--fill]
//
// A session of the test user (--net=none --port-driver=builtin, a TCP echo
// server inside) on a port the kernel picks. N connections (default 1000)
// are opened and each echoes one byte (so it is relayed end to end), then
// the launcher's fds are counted in /proc/PID/fd: (fds - fds before) / N.
// With --fill, connections are opened until one is not relayed (the limit
// reached): that many is the session's ceiling at the user's limits. The
// echo server inside and this process need fds too: both are node, which
// raises its soft limit to the hard one, as the launcher does.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { BIN, userEnv } from '../test/helpers/rootless.js';
import { benchUser } from './common.js';

const args = process.argv.slice(2);
const N = args.includes('--conns') ? Number(args[args.indexOf('--conns') + 1]) : 1000;
const fill = args.includes('--fill');
const user = benchUser();
const TARGET = fileURLToPath(new URL('../test/helpers/port-target.js', import.meta.url));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
function limit(pid: number): string {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  const [soft, hard] = line.slice('Max open files'.length).trim().split(/\s+/);
  return `${soft}/${hard}`;
}

/** One connection that echoed a byte, or undefined if it was not relayed. */
function echoOnce(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('data', () => resolve(s));
    s.once('error', () => resolve(undefined));
    s.once('close', () => resolve(undefined));
    s.write('x');
  });
}

async function main(): Promise<void> {
  const port = await freePort();
  const child = spawn(BIN, ['run', '--net=none', '--port-driver=builtin', '-p', `127.0.0.1:${port}:80/tcp`, '--', process.execPath, TARGET, 'tcp-echo:80'], {
    env: userEnv(user),
    cwd: '/tmp',
    stdio: ['ignore', 'pipe', 'inherit'],
    ...(user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (c) => reject(new Error(`session ended: ${c}`)));
  });
  const pid = child.pid!;
  const conns: Socket[] = [];
  // One connection first: the relay's worker, pipes and control socket exist then.
  conns.push((await echoOnce(port))!);
  const before = fds(pid);
  const want = fill ? Infinity : N;
  while (conns.length - 1 < want) {
    const s = await echoOnce(port);
    if (s === undefined) break;
    conns.push(s);
  }
  const held = conns.length - 1;
  const after = fds(pid);
  console.log(`launcher ${pid}: RLIMIT_NOFILE (soft/hard) ${limit(pid)}`);
  console.log(`connections relayed: ${held}${fill ? ' (until one was not)' : ''}`);
  console.log(`launcher fds: ${before} before, ${after} after: ${((after - before) / held).toFixed(2)} per connection`);
  for (const s of conns) s.destroy();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
