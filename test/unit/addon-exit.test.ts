// The addon's threads do not hold a process back at exit: a process with a
// port relay (workers and a connector) and a NOTIFY_SOCKET relay running
// exits at once with its own status (its globals are never destroyed, so
// exit() tears nothing down under a thread still using it).
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const native = new URL('../../src/sys/native.js', import.meta.url).href;

test('exit with relay workers, a connector and a notify relay running: status as given, no signal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootless-exit-'));
  try {
    const script = `
      const n = await import(${JSON.stringify(native)});
      const ends = [n.socketpairSeqpacket(), n.socketpairSeqpacket()];
      const relay = n.createRelay(ends.map((e) => e[0]), { udpIdleMs: 60000, pipeSize: 0 }, () => {});
      n.relayAdd(relay, 1, 'tcp', [0, 1].map(() => n.listenSocket('tcp', '127.0.0.1', 0, -1, true)), '127.0.0.1', 1);
      n.startConnector(ends.map((e) => e[1]));
      n.notifyRelayStart(${JSON.stringify(join(dir, 'notify.sock'))}, '@rootless-exit-test-' + process.pid, { dropPrefix: 'MAINPID=', append: 'MAINPID=1', limit: 4096 }, () => {});
      process.exit(7);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    t.is(stderr, '');
    t.is(signal, null);
    t.is(code, 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
