// Importing the package must not load the native addon: where no prebuilt
// matches, `import { run } from 'rootless'` has to succeed so that run()
// and openSession() can reject with AddonMissingError (test/e2e/install.test.ts
// shows that with the real tarball; this catches an eager import early).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const INDEX = fileURLToPath(new URL('../../src/index.js', import.meta.url));

test('importing the package entry point maps no native addon into the process', (t) => {
  const script = `await import(${JSON.stringify(INDEX)});
const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
process.stdout.write(maps.split('\\n').filter((l) => l.endsWith('.node')).join('\\n'));`;
  const loaded = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  t.is(loaded, '', 'no .node file is mapped after the import');
});

test('the check itself sees an addon once something loads it', (t) => {
  const script = `await import(${JSON.stringify(INDEX.replace(/index\.js$/, 'sys/native.js'))});
const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
process.stdout.write(maps.split('\\n').filter((l) => l.endsWith('.node')).join('\\n'));`;
  const loaded = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  t.regex(loaded, /rootless\.node$/m);
});
