// Lowers its own soft fd limit to 777 after node raised it (prlimit on
// itself: as a caller that set its own limit), opens a session, and prints
// the soft and hard limits a command sees through s.run and s.spawn.
import { spawnSync } from 'node:child_process';
import { openSession } from '../../src/index.js';

const set = spawnSync('prlimit', ['--pid', String(process.pid), '--nofile=777:'], { encoding: 'utf8' });
if (set.status !== 0) throw new Error(`prlimit failed: ${set.stderr || set.error?.message}`);
const [uid, gid] = [process.env.HOLDER_UID, process.env.HOLDER_GID];
const s = await openSession({}, uid === undefined ? {} : { uid: Number(uid), gid: Number(gid) });
try {
  const script = 'echo "$(ulimit -Sn) $(ulimit -Hn)"';
  const run = (await s.run(['sh', '-c', script])).stdout.trim();
  const p = s.spawn(['sh', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  await new Promise((res) => p.once('close', res));
  process.stdout.write(`${JSON.stringify({ run, spawn: out.trim() })}\n`);
} finally {
  await s.close();
}
