// The Node API (src/index.ts) as a test suite would use it.
import test from 'ava';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { run, runArgv } from '../../src/index.js';
import { U, e2e, subIdRange, userDir, userEnv } from '../helpers/e2e.js';

test('runArgv turns options into the CLI flags, from the flag table', (t) => {
  t.deepEqual(runArgv(['id'], { propagation: 'rslave', copyUp: ['/etc', '/run'], pidns: true, mtu: 1500, logLevel: 'debug' }), [
    'run', '--propagation=rslave', '--copy-up=/etc', '--copy-up=/run', '--pidns', '--mtu=1500', '--log-level=debug', '--', 'id',
  ]);
  t.deepEqual(runArgv(['true'], { pidns: false }), ['run', '--', 'true']);
  t.throws(() => runArgv([], {}), { message: /must not be empty/ });
  t.throws(() => runArgv(['x'], { bogus: 1 } as never), { message: /unknown option "bogus"/ });
});

e2e('run() gives a test root-owned and sub-id-owned files, and the exit code', async (t) => {
  const dir = userDir('rootless-api-', t);
  const r = await run(['sh', '-c', 'touch f && chown 1000:1000 f && id -u && exit 3'], {}, {
    cwd: dir,
    env: userEnv(U),
    ...(U.switchTo ?? {}),
  });
  t.is(r.code, 3, r.stderr);
  t.is(r.stdout, '0\n');
  t.is(statSync(join(dir, 'f')).uid, subIdRange('/etc/subuid', U)!.start + 999);
});

e2e('run() reports a signal death as 128+N', async (t) => {
  const r = await run(['sh', '-c', 'kill -KILL $$'], {}, { env: userEnv(U), ...(U.switchTo ?? {}) });
  t.is(r.code, 137);
});
