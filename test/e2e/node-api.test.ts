// The Node API (src/index.ts) as a test suite would use it.
import test from 'ava';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { RootlessError, UsageError, run, runArgv } from '../../src/index.js';
import { NOSUB_USER_NAME, U, e2e, launcherUser, skip, subIdRange, userDir, userEnv, type TestUser } from '../helpers/e2e.js';

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

e2e('run() rejects with a typed error when rootless fails; a target exiting 125 or 2 is a result', async (t) => {
  const proc = { env: userEnv(U), ...(U.switchTo ?? {}) };
  const bad = await t.throwsAsync(run(['true'], { mtu: -5 } as never, proc), { instanceOf: UsageError });
  t.regex(bad!.message, /--mtu/);
  const r = await run(['sh', '-c', 'echo "rootless run: not really" >&2; exit 2'], {}, proc);
  t.is(r.code, 2);
  t.is((await run(['sh', '-c', 'exit 125'], {}, proc)).code, 125);
});

const nosub = launcherUser(NOSUB_USER_NAME);
const noNosub = typeof nosub === 'string' ? nosub : !nosub.switchTo ? 'the suite does not run as root, so it cannot start the launcher as the no-sub-id user' : undefined;
(noNosub === undefined ? e2e : (title: string) => skip(title, noNosub))('run() rejects with RootlessError (step, errno) for a user without sub-ids (static source)', async (t) => {
  const N = nosub as TestUser;
  const err = await t.throwsAsync(run(['true'], { subidSource: 'static' }, { env: userEnv(N), ...(N.switchTo ?? {}) }), { instanceOf: RootlessError });
  t.regex(err!.message, /sub-?uid|subuid/i);
  t.truthy(err!.step);
  t.not(err!.step, 'launch', 'the step comes from the launcher\'s error record');
});
