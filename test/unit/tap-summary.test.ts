// The closing line CI reads ("N passed, N failed, N skipped") must count a
// skipped test as skipped, not passed.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../scripts/tap-summary.mjs', import.meta.url));

test('tap-summary counts passes, failures and skips apart and passes TAP through', (t) => {
  const tap = [
    'TAP version 13',
    'ok 1 - a › passes',
    'not ok 2 - a › fails',
    'ok 3 - a › known bug [skipped: why] # SKIP',
    'ok 4 - a › later # TODO',
    'ok 5 - a › title with # inside but no directive',
    '# tests 5',
  ].join('\n');
  const r = spawnSync(process.execPath, [script], { input: `${tap}\n`, encoding: 'utf8' });
  t.is(r.status, 0);
  const lines = r.stdout.trimEnd().split('\n');
  t.deepEqual(lines.slice(0, -1), tap.split('\n'));
  t.is(lines.at(-1), '2 passed, 1 failed, 2 skipped');
});
