import test from 'ava';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RootlessError } from '../../src/sys/errors.js';
import {
  buildIdMap,
  describeIdMap,
  idMapFileText,
  newIdMapArgs,
  resolveHelper,
  writeIdMapsWithHelpers,
} from '../../src/parent/idmap.js';
import type { IdMapEntry } from '../../src/parent/idmap.js';
import type { SubIdRange } from '../../src/parent/subid.js';

// ---- buildIdMap -----------------------------------------------------------

test('buildIdMap with no ranges maps only the own id', (t) => {
  const r = buildIdMap(1001, []);
  t.deepEqual(r.entries, [{ inside: 0, outside: 1001, count: 1 }]);
  t.deepEqual(r.warnings, []);
});

test('buildIdMap with a single range', (t) => {
  const r = buildIdMap(1001, [{ start: 100000, count: 65536 }]);
  t.deepEqual(r.entries, [
    { inside: 0, outside: 1001, count: 1 },
    { inside: 1, outside: 100000, count: 65536 },
  ]);
  t.deepEqual(r.warnings, []);
});

test('buildIdMap places several ranges consecutively in order', (t) => {
  const r = buildIdMap(1001, [
    { start: 300000, count: 10 },
    { start: 100000, count: 65536 },
    { start: 500000, count: 5 },
  ]);
  t.deepEqual(r.entries, [
    { inside: 0, outside: 1001, count: 1 },
    { inside: 1, outside: 300000, count: 10 },
    { inside: 11, outside: 100000, count: 65536 },
    { inside: 65547, outside: 500000, count: 5 },
  ]);
  t.deepEqual(r.warnings, []);
});

test('buildIdMap skips a range containing the own id, with a warning', (t) => {
  const r = buildIdMap(100005, [
    { start: 100000, count: 10 },
    { start: 200000, count: 65536 },
  ]);
  t.deepEqual(r.entries, [
    { inside: 0, outside: 100005, count: 1 },
    { inside: 1, outside: 200000, count: 65536 },
  ]);
  t.is(r.warnings.length, 1);
  t.regex(r.warnings[0] ?? '', /100000\+10.*contains the user's own id 100005/);
});

test('buildIdMap treats range boundaries exactly around the own id', (t) => {
  // Own id just past the end and just before the start: both ranges are fine.
  const r = buildIdMap(1000, [
    { start: 990, count: 10 },
    { start: 1001, count: 10 },
  ]);
  t.is(r.entries.length, 3);
  t.deepEqual(r.warnings, []);
});

test('buildIdMap drops duplicate and overlapping ranges with warnings', (t) => {
  const r = buildIdMap(1001, [
    { start: 100000, count: 65536 },
    { start: 100000, count: 65536 },
    { start: 165535, count: 10 },
    { start: 90000, count: 10001 },
    { start: 165536, count: 10 },
  ]);
  t.deepEqual(r.entries, [
    { inside: 0, outside: 1001, count: 1 },
    { inside: 1, outside: 100000, count: 65536 },
    { inside: 65537, outside: 165536, count: 10 },
  ]);
  t.is(r.warnings.length, 3);
  t.regex(r.warnings[0] ?? '', /duplicates range 100000\+65536/);
  t.regex(r.warnings[1] ?? '', /165535\+10.*overlaps range 100000\+65536/);
  t.regex(r.warnings[2] ?? '', /90000\+10001.*overlaps/);
});

test('buildIdMap keeps at most 340 lines', (t) => {
  const ranges: SubIdRange[] = [];
  for (let i = 0; i < 345; i++) ranges.push({ start: 100000 + i * 100, count: 10 });
  const r = buildIdMap(1001, ranges);
  t.is(r.entries.length, 340);
  t.deepEqual(r.entries[339], { inside: 1 + 338 * 10, outside: 100000 + 338 * 100, count: 10 });
  t.is(r.warnings.length, 1);
  t.regex(r.warnings[0] ?? '', /at most 340.*first 339.*dropped 6/);
});

test('buildIdMap accepts exactly 339 ranges without warning', (t) => {
  const ranges: SubIdRange[] = [];
  for (let i = 0; i < 339; i++) ranges.push({ start: 100000 + i * 100, count: 10 });
  const r = buildIdMap(1001, ranges);
  t.is(r.entries.length, 340);
  t.deepEqual(r.warnings, []);
});

test('buildIdMap maps the whole valid id space, ending at inside id 2^32-2', (t) => {
  // Every outside id but the own one and (uid_t)-1: exactly fills inside 1..2^32-2.
  const r = buildIdMap(1001, [
    { start: 0, count: 1001 },
    { start: 1002, count: 4294967295 - 1002 },
  ]);
  t.deepEqual(r.entries, [
    { inside: 0, outside: 1001, count: 1 },
    { inside: 1, outside: 0, count: 1001 },
    { inside: 1002, outside: 1002, count: 4294966293 },
  ]);
  const last = r.entries[2];
  t.is(last === undefined ? -1 : last.inside + last.count - 1, 4294967294);
  t.deepEqual(r.warnings, []);
});

test('buildIdMap skips a range reaching (uid_t)-1', (t) => {
  const r = buildIdMap(1001, [{ start: 4294967290, count: 6 }]);
  t.is(r.entries.length, 1);
  t.is(r.warnings.length, 1);
});

test('buildIdMap skips invalid ranges', (t) => {
  const r = buildIdMap(1001, [
    { start: 100000, count: 0 },
    { start: -5, count: 10 },
    { start: 1.5, count: 10 },
    { start: 200000, count: 10 },
  ]);
  t.deepEqual(r.entries, [
    { inside: 0, outside: 1001, count: 1 },
    { inside: 1, outside: 200000, count: 10 },
  ]);
  t.is(r.warnings.length, 3);
});

// ---- formatting -------------------------------------------------------------

const sample: IdMapEntry[] = [
  { inside: 0, outside: 1001, count: 1 },
  { inside: 1, outside: 100000, count: 65536 },
];

test('newIdMapArgs lists the pid then triples', (t) => {
  t.deepEqual(newIdMapArgs(4321, sample), ['4321', '0', '1001', '1', '1', '100000', '65536']);
});

test('idMapFileText produces one line per entry', (t) => {
  t.is(idMapFileText(sample), '0 1001 1\n1 100000 65536\n');
  t.is(idMapFileText([]), '');
});

test('describeIdMap is compact', (t) => {
  t.is(describeIdMap(sample), '0:1001:1,1:100000:65536');
});

// ---- helpers ----------------------------------------------------------------

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rootless-idmap-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function script(file: string, body: string): Promise<string> {
  await writeFile(file, `#!/bin/sh\n${body}`);
  await chmod(file, 0o755);
  return file;
}

test('resolveHelper finds an executable through PATH and skips non-executables', async (t) => {
  const dir = await tempDir(t);
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  await mkdir(a);
  await mkdir(b);
  await writeFile(path.join(a, 'newuidmap'), 'not executable');
  await mkdir(path.join(a, 'newgidmap')); // a directory is not a helper
  const exe = await script(path.join(b, 'newuidmap'), 'exit 0\n');
  t.is(resolveHelper('newuidmap', `${a}::${b}`), exe);
  t.is(resolveHelper('newgidmap', `${a}:${b}`), undefined);
  t.is(resolveHelper('newuidmap', ''), undefined);
  t.is(resolveHelper(exe, undefined), exe);
  t.is(resolveHelper(path.join(a, 'newuidmap'), undefined), undefined);
});

test('writeIdMapsWithHelpers runs both helpers with their maps', async (t) => {
  const dir = await tempDir(t);
  const uidLog = path.join(dir, 'uid-args');
  const gidLog = path.join(dir, 'gid-args');
  const newuidmap = await script(path.join(dir, 'newuidmap'), `echo "$@" > '${uidLog}'\n`);
  const newgidmap = await script(path.join(dir, 'newgidmap'), `echo "$@" > '${gidLog}'\n`);
  const gid: IdMapEntry[] = [
    { inside: 0, outside: 1002, count: 1 },
    { inside: 1, outside: 200000, count: 10 },
  ];
  await writeIdMapsWithHelpers(777, sample, gid, { newuidmap, newgidmap });
  t.is((await readFile(uidLog, 'utf8')).trim(), '777 0 1001 1 1 100000 65536');
  t.is((await readFile(gidLog, 'utf8')).trim(), '777 0 1002 1 1 200000 10');
});

test('writeIdMapsWithHelpers runs the helpers in parallel', async (t) => {
  const dir = await tempDir(t);
  // Each helper waits for the other's marker: sequential runs would time out.
  const u = path.join(dir, 'u-started');
  const g = path.join(dir, 'g-started');
  const wait = (marker: string): string =>
    `i=0; while [ ! -e '${marker}' ]; do i=$((i+1)); [ $i -gt 100 ] && exit 3; sleep 0.05; done\n`;
  const newuidmap = await script(path.join(dir, 'newuidmap'), `touch '${u}'\n${wait(g)}`);
  const newgidmap = await script(path.join(dir, 'newgidmap'), `touch '${g}'\n${wait(u)}`);
  await t.notThrowsAsync(writeIdMapsWithHelpers(1, sample, sample, { newuidmap, newgidmap }));
});

test('writeIdMapsWithHelpers reports a failing newuidmap with its stderr', async (t) => {
  const dir = await tempDir(t);
  const newuidmap = await script(
    path.join(dir, 'newuidmap'),
    `echo "newuidmap: write to uid_map failed: Operation not permitted" >&2\necho "  more detail  " >&2\nexit 1\n`,
  );
  const gidLog = path.join(dir, 'gid-args');
  const newgidmap = await script(path.join(dir, 'newgidmap'), `echo "$@" > '${gidLog}'\n`);
  const err = await t.throwsAsync(writeIdMapsWithHelpers(555, sample, sample, { newuidmap, newgidmap }), {
    instanceOf: RootlessError,
  });
  t.is(err?.step, 'newuidmap');
  t.is(err?.subject, '555');
  t.is(err?.code, 'EPERM');
  t.regex(err?.message ?? '', /exit status 1\): newuidmap: write to uid_map failed: Operation not permitted; more detail$/);
  // Our test script is not set-uid root, so the hint must say so.
  t.regex(err?.hint ?? '', /not set-uid root.*setcap cap_setuid\+ep.*uidmap/);
  // newgidmap still ran to completion.
  t.is((await readFile(gidLog, 'utf8')).trim(), '555 0 1001 1 1 100000 65536');
});

test('writeIdMapsWithHelpers reports a failing newgidmap with step newgidmap', async (t) => {
  const dir = await tempDir(t);
  const newuidmap = await script(path.join(dir, 'newuidmap'), 'exit 0\n');
  const newgidmap = await script(path.join(dir, 'newgidmap'), 'echo "bad range" >&2\nexit 1\n');
  const err = await t.throwsAsync(writeIdMapsWithHelpers(9, sample, sample, { newuidmap, newgidmap }), {
    instanceOf: RootlessError,
  });
  t.is(err?.step, 'newgidmap');
  t.regex(err?.message ?? '', /bad range/);
  t.regex(err?.hint ?? '', /cap_setgid\+ep/);
});

test('writeIdMapsWithHelpers with a missing helper throws ENOENT', async (t) => {
  const dir = await tempDir(t);
  const newgidmap = await script(path.join(dir, 'newgidmap'), 'exit 0\n');
  const err = await t.throwsAsync(
    writeIdMapsWithHelpers(9, sample, sample, { newuidmap: path.join(dir, 'no-such-newuidmap'), newgidmap }),
    { instanceOf: RootlessError },
  );
  t.is(err?.step, 'newuidmap');
  t.is(err?.code, 'ENOENT');
  t.is(err?.subject, '9');
  t.regex(err?.hint ?? '', /install the uidmap package/);
});
