// Finding the driver program and probing what it supports, with the cache
// that keeps the probe off every start. Fake programs in a temp dir.
import test from 'ava';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/cli/log.js';
import { RootlessError } from '../../src/sys/errors.js';
import { resolveProgram } from '../../src/net/binary.js';
import { cacheFile, parseProbe, programFeatures } from '../../src/net/probe.js';

const log = createLogger('silent');

function scratch(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'rootless-net-probe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('parseProbe: the version line and every long option of the help', (t) => {
  const f = parseProbe('Failed to send 51 bytes to syslog\nslirp4netns version 1.2.0\ncommit: x\n', 'Usage: ...\n-c, --configure   bring up\n--cidr=CIDR  x\n--configure again\n');
  t.is(f.version, 'slirp4netns version 1.2.0');
  t.deepEqual(f.options, ['--cidr', '--configure']);
});

test('resolveProgram finds the program in PATH', (t) => {
  const dir = scratch(t);
  writeFileSync(join(dir, 'fake-driver'), '#!/bin/sh\n', { mode: 0o755 });
  t.is(resolveProgram({ name: 'fake-driver', driver: 'slirp4netns', debianPackage: 'slirp4netns' }, `/nonexistent:${dir}`), join(dir, 'fake-driver'));
});

test('resolveProgram: missing program -> one line naming it and its package', (t) => {
  const err = t.throws(() => resolveProgram({ name: 'no-such-slirp', driver: 'slirp4netns', debianPackage: 'slirp4netns' }, '/nonexistent'), { instanceOf: RootlessError });
  t.is(err!.message, 'no-such-slirp: not found in PATH; --net=slirp4netns needs it (Debian package: slirp4netns)');
  t.is(err!.exitCode, 125);
});

test('resolveProgram: a file that is not executable, by path and in PATH', (t) => {
  const dir = scratch(t);
  const file = join(dir, 'pasta');
  writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
  chmodSync(file, 0o644);
  // root may execute nothing without an x bit either: access(X_OK) says so.
  const byPath = t.throws(() => resolveProgram({ name: file, driver: 'pasta', debianPackage: 'passt' }), { instanceOf: RootlessError });
  t.regex(byPath!.message, /pasta: not an executable file \(EACCES\); --net=pasta needs it \(Debian package: passt\)$/);
  const inPath = t.throws(() => resolveProgram({ name: 'pasta', driver: 'pasta', debianPackage: 'passt' }, dir), { instanceOf: RootlessError });
  t.regex(inPath!.message, /not an executable file/);
  t.throws(() => resolveProgram({ name: dir, driver: 'pasta', debianPackage: 'passt' }), { message: /not an executable file \(EISDIR\)/ });
});

test('programFeatures runs the probe once, then answers from the cache until the program changes', async (t) => {
  const dir = scratch(t);
  const counter = join(dir, 'runs');
  const prog = join(dir, 'fake-slirp');
  writeFileSync(prog, `#!/bin/sh\necho x >> ${counter}\ncase "$1" in --version) echo "fake-slirp version 9.9";; *) echo "  --enable-sandbox  --mtu=MTU";; esac\n`, { mode: 0o755 });
  const cache = join(dir, 'cache', 'rootless', 'driver-features.json');
  const runs = (): number => (existsSync(counter) ? readFileSync(counter, 'utf8').split('\n').filter(Boolean).length : 0);

  const first = await programFeatures(prog, log, cache);
  t.deepEqual(first.options, ['--enable-sandbox', '--mtu']);
  t.is(first.version, 'fake-slirp version 9.9');
  t.is(runs(), 2, '--version and --help');
  t.true(existsSync(cache));

  const second = await programFeatures(prog, log, cache);
  t.deepEqual(second.options, first.options);
  t.is(runs(), 2, 'answered from the cache: no exec');

  const later = new Date(Date.now() + 5000);
  utimesSync(prog, later, later);
  await programFeatures(prog, log, cache);
  t.is(runs(), 4, 'a changed program is probed again');
});

test('a cache file others can write is ignored', async (t) => {
  const dir = scratch(t);
  const prog = join(dir, 'fake');
  writeFileSync(prog, '#!/bin/sh\necho "--real-option"\n', { mode: 0o755 });
  const cache = join(dir, 'features.json');
  await programFeatures(prog, log, cache);
  const data = JSON.parse(readFileSync(cache, 'utf8')) as { entries: Record<string, { options: string[] }> };
  data.entries[prog]!.options = ['--lie'];
  writeFileSync(cache, JSON.stringify(data));
  chmodSync(cache, 0o666);
  t.deepEqual((await programFeatures(prog, log, cache)).options, ['--real-option']);
});

test('cacheFile: XDG_CACHE_HOME, else ~/.cache, else none', (t) => {
  t.is(cacheFile({ XDG_CACHE_HOME: '/x/c', HOME: '/h' }), '/x/c/rootless/driver-features.json');
  t.is(cacheFile({ HOME: '/h' }), '/h/.cache/rootless/driver-features.json');
  t.is(cacheFile({ XDG_CACHE_HOME: 'relative' }), undefined);
});
