// The documentation's examples are programs that run: each is a file under
// examples/ that docs quote verbatim, run here as the unprivileged test user.
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { REPO, RUN_TMP, U, collect, e2e, start } from '../helpers/e2e.js';

const quoted = (doc: string, file: string): boolean => readFileSync(`${REPO}${doc}`, 'utf8').includes(`\`\`\`js\n${readFileSync(`${REPO}${file}`, 'utf8')}\`\`\``);

test('docs/node-api.md quotes examples/node-test-session.mjs verbatim', (t) => {
  t.true(quoted('docs/node-api.md', 'examples/node-test-session.mjs'), 'the js block of "A fixture per test file" is the example file');
});

e2e('examples/node-test-session.mjs: a node:test file with one session, root- and sub-uid-owned files, cleaned up', async (t) => {
  // `import 'rootless'` resolves to this package (a self-reference through
  // its exports), as it would from a project that depends on it.
  const child = start(U, ['--test', '--test-reporter=tap', `${REPO}examples/node-test-session.mjs`], { bin: process.execPath, cwd: REPO });
  const r = await collect(child, 120_000);
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  t.regex(r.stdout, /^# pass 1$/m);
  t.regex(r.stdout, /^# fail 0$/m);
  // Its after() removed the sub-uid-owned directory (TMPDIR is RUN_TMP).
  t.deepEqual(readdirSync(RUN_TMP).filter((n) => n.startsWith('mytest-')), []);
});
