import test from 'ava';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { RootlessError } from '../../src/sys/errors.js';
import { freeSubIdRange, grantSubIdsCommand, lookupSubIds, parseAllSubIdRanges, parseGetsubidsOutput, parseSubIdFile, suggestSubIdRange } from '../../src/parent/subid.js';
import { planUserMap } from '../../src/parent/usermap.js';
import type { SubIdUser } from '../../src/parent/subid.js';

const alice: SubIdUser = { name: 'alice', id: 1001 };

// ---- parseSubIdFile -------------------------------------------------------

test('parseSubIdFile matches the user name', (t) => {
  const r = parseSubIdFile('alice:100000:65536\n', alice, '/etc/subuid');
  t.deepEqual(r.ranges, [{ start: 100000, count: 65536 }]);
  t.deepEqual(r.warnings, []);
});

test('parseSubIdFile matches the numeric uid', (t) => {
  const r = parseSubIdFile('1001:200000:1000\n', alice, 'f');
  t.deepEqual(r.ranges, [{ start: 200000, count: 1000 }]);
});

test('parseSubIdFile matches the numeric uid when the name is unknown', (t) => {
  const r = parseSubIdFile('alice:100000:65536\n1001:300000:10\n', { name: undefined, id: 1001 }, 'f');
  t.deepEqual(r.ranges, [{ start: 300000, count: 10 }]);
});

test('parseSubIdFile returns several ranges in file order, by name and uid', (t) => {
  const text = ['alice:300000:10', 'bob:100000:65536', '1001:100000:5', 'alice:500000:65536'].join('\n');
  const r = parseSubIdFile(text, alice, 'f');
  t.deepEqual(r.ranges, [
    { start: 300000, count: 10 },
    { start: 100000, count: 5 },
    { start: 500000, count: 65536 },
  ]);
  t.deepEqual(r.warnings, []);
});

test('parseSubIdFile skips comments and blank lines and tolerates whitespace', (t) => {
  const text = '# a comment\n\n   \n  # indented comment\n  alice : 100000 : 65536  \r\n\talice:1:1\t\n';
  const r = parseSubIdFile(text, alice, 'f');
  t.deepEqual(r.ranges, [
    { start: 100000, count: 65536 },
    { start: 1, count: 1 },
  ]);
  t.deepEqual(r.warnings, []);
});

test('parseSubIdFile ignores other users silently, even their malformed lines', (t) => {
  const text = 'bob:100000:65536\nbob:x:y\ncarol:1:2:3\n10010:5:5\n';
  const r = parseSubIdFile(text, alice, 'f');
  t.deepEqual(r.ranges, []);
  t.deepEqual(r.warnings, []);
});

test('parseSubIdFile: user absent from the file gives no ranges', (t) => {
  const r = parseSubIdFile('bob:100000:65536\n', alice, 'f');
  t.deepEqual(r.ranges, []);
});

const malformed: Array<[string, string, RegExp]> = [
  ['too few fields', 'alice:100000', /3 fields|expected 3|2 fields/],
  ['too many fields', 'alice:1:2:3', /4 fields/],
  ['non-decimal start', 'alice:0x10:65536', /start "0x10" is not a decimal/],
  ['negative start', 'alice:-1:65536', /start "-1" is not a decimal/],
  ['non-decimal count', 'alice:100000:abc', /count "abc" is not a decimal/],
  ['empty count', 'alice:100000:', /count "" is not a decimal/],
  ['count 0', 'alice:100000:0', /count is 0/],
  ['beyond 2^32-1', 'alice:4294967295:1', /beyond/],
  ['range end just over the limit', 'alice:4294967290:6', /beyond/],
];

for (const [what, line, pattern] of malformed) {
  test(`parseSubIdFile warns about a malformed entry: ${what}`, (t) => {
    const r = parseSubIdFile(`# header\n${line}\nalice:100000:65536\n`, alice, '/etc/subuid');
    t.deepEqual(r.ranges, [{ start: 100000, count: 65536 }]);
    t.is(r.warnings.length, 1);
    const w = r.warnings[0] ?? '';
    t.true(w.startsWith('/etc/subuid:2:'), w);
    t.regex(w, pattern);
  });
}

test('parseSubIdFile accepts the largest valid range end', (t) => {
  const r = parseSubIdFile('alice:4294967290:5\n', alice, 'f');
  t.deepEqual(r.ranges, [{ start: 4294967290, count: 5 }]);
  t.deepEqual(r.warnings, []);
});

test('parseSubIdFile warns about unparsable lines that belong to nobody', (t) => {
  const r = parseSubIdFile('garbage\n:1:2\nalice:1:2\n', alice, 'sub');
  t.deepEqual(r.ranges, [{ start: 1, count: 2 }]);
  t.is(r.warnings.length, 2);
  t.regex(r.warnings[0] ?? '', /^sub:1: .*unparsable/);
  t.regex(r.warnings[1] ?? '', /^sub:2: .*unparsable/);
});

// ---- parseGetsubidsOutput -------------------------------------------------

test('parseGetsubidsOutput parses ranges and ignores junk', (t) => {
  const out = [
    'Warning: something odd',
    '0: rootless-test 100000 65536',
    '  1: rootless-test 300000 10  ',
    '2: rootless-test abc 10',
    '3: rootless-test 5 0',
    '',
    'Error fetching ranges',
  ].join('\n');
  t.deepEqual(parseGetsubidsOutput(out), [
    { start: 100000, count: 65536 },
    { start: 300000, count: 10 },
  ]);
});

test('parseGetsubidsOutput of empty output is empty', (t) => {
  t.deepEqual(parseGetsubidsOutput(''), []);
});

// ---- lookupSubIds ---------------------------------------------------------

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rootless-subid-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A fake getsubids: records its args, touches a marker, prints fixed ranges
 * (different for -g) for any user, or fails when `fail` is set.
 */
async function fakeGetsubids(dir: string, opts: { fail?: boolean; empty?: boolean } = {}): Promise<{ bin: string; marker: string; argsFile: string }> {
  const bin = path.join(dir, 'getsubids');
  const marker = path.join(dir, 'getsubids-ran');
  const argsFile = path.join(dir, 'getsubids-args');
  const body = opts.fail
    ? `echo "Error fetching ranges" >&2\necho "second line" >&2\nexit 1\n`
    : opts.empty
      ? 'exit 0\n'
      : [
          'if [ "$1" = "-g" ]; then',
          '  echo "0: $2 200000 65536"',
          'else',
          '  echo "0: $1 100000 65536"',
          '  echo "1: $1 400000 1000"',
          'fi',
        ].join('\n') + '\n';
  const script = `#!/bin/sh\ntouch '${marker}'\necho "$@" > '${argsFile}'\n${body}`;
  await writeFile(bin, script);
  await chmod(bin, 0o755);
  return { bin, marker, argsFile };
}

test('lookupSubIds static reads the subuid file', async (t) => {
  const dir = await tempDir(t);
  const subuid = path.join(dir, 'subuid');
  await writeFile(subuid, 'bob:1:2\nalice:100000:65536\n');
  const r = await lookupSubIds('uid', 'static', alice, { subuidFile: subuid, subgidFile: path.join(dir, 'nope') });
  t.deepEqual(r, { ranges: [{ start: 100000, count: 65536 }], origin: 'file', warnings: [] });
});

test('lookupSubIds static reads the subgid file for gids, keyed by the user', async (t) => {
  const dir = await tempDir(t);
  const subuid = path.join(dir, 'subuid');
  const subgid = path.join(dir, 'subgid');
  await writeFile(subuid, 'alice:100000:65536\n');
  await writeFile(subgid, '1001:700000:50\n');
  const r = await lookupSubIds('gid', 'static', alice, { subuidFile: subuid, subgidFile: subgid });
  t.deepEqual(r.ranges, [{ start: 700000, count: 50 }]);
  t.is(r.origin, 'file');
});

test('lookupSubIds static with a missing file gives no ranges and never runs getsubids', async (t) => {
  const dir = await tempDir(t);
  const fake = await fakeGetsubids(dir);
  const r = await lookupSubIds('uid', 'static', alice, { subuidFile: path.join(dir, 'missing'), getsubids: fake.bin });
  t.deepEqual(r.ranges, []);
  t.is(r.origin, 'none');
  t.false(existsSync(fake.marker));
});

test('lookupSubIds static passes on malformed-line warnings', async (t) => {
  const dir = await tempDir(t);
  const subuid = path.join(dir, 'subuid');
  await writeFile(subuid, 'alice:100000:0\n');
  const r = await lookupSubIds('uid', 'static', alice, { subuidFile: subuid });
  t.is(r.origin, 'none');
  t.is(r.warnings.length, 1);
  t.true((r.warnings[0] ?? '').startsWith(`${subuid}:1:`));
});

test('lookupSubIds static with an unreadable path (a directory) throws a RootlessError', async (t) => {
  const dir = await tempDir(t);
  const err = await t.throwsAsync(lookupSubIds('uid', 'static', alice, { subuidFile: dir }), { instanceOf: RootlessError });
  t.is(err?.code, 'EISDIR');
  t.is(err?.subject, dir);
});

test('lookupSubIds auto does not run getsubids when the file has an entry', async (t) => {
  const dir = await tempDir(t);
  const subuid = path.join(dir, 'subuid');
  await writeFile(subuid, 'alice:100000:65536\n');
  const fake = await fakeGetsubids(dir);
  const r = await lookupSubIds('uid', 'auto', alice, { subuidFile: subuid, getsubids: fake.bin });
  t.is(r.origin, 'file');
  t.deepEqual(r.ranges, [{ start: 100000, count: 65536 }]);
  t.false(existsSync(fake.marker), 'getsubids must not run');
});

test('lookupSubIds auto falls back to getsubids when the file has no entry for the user', async (t) => {
  const dir = await tempDir(t);
  const subuid = path.join(dir, 'subuid');
  await writeFile(subuid, 'bob:100000:65536\n');
  const fake = await fakeGetsubids(dir);
  const r = await lookupSubIds('uid', 'auto', alice, { subuidFile: subuid, getsubids: fake.bin });
  t.true(existsSync(fake.marker));
  t.is((await readFile(fake.argsFile, 'utf8')).trim(), 'alice');
  t.is(r.origin, 'getsubids');
  t.deepEqual(r.ranges, [
    { start: 100000, count: 65536 },
    { start: 400000, count: 1000 },
  ]);
});

test('lookupSubIds auto falls back to getsubids -g for gids when the file is missing', async (t) => {
  const dir = await tempDir(t);
  const fake = await fakeGetsubids(dir);
  const r = await lookupSubIds('gid', 'auto', alice, { subgidFile: path.join(dir, 'missing'), getsubids: fake.bin });
  t.is((await readFile(fake.argsFile, 'utf8')).trim(), '-g alice');
  t.is(r.origin, 'getsubids');
  t.deepEqual(r.ranges, [{ start: 200000, count: 65536 }]);
});

test('lookupSubIds auto with an absent getsubids is not an error', async (t) => {
  const dir = await tempDir(t);
  const r = await lookupSubIds('uid', 'auto', alice, {
    subuidFile: path.join(dir, 'missing'),
    getsubids: path.join(dir, 'no-such-getsubids'),
  });
  t.is(r.origin, 'none');
  t.deepEqual(r.ranges, []);
  t.is(r.warnings.length, 1);
  t.regex(r.warnings[0] ?? '', /ENOENT/);
});

test('lookupSubIds auto with a failing getsubids is not an error', async (t) => {
  const dir = await tempDir(t);
  const fake = await fakeGetsubids(dir, { fail: true });
  const r = await lookupSubIds('uid', 'auto', alice, { subuidFile: path.join(dir, 'missing'), getsubids: fake.bin });
  t.true(existsSync(fake.marker));
  t.is(r.origin, 'none');
  t.regex(r.warnings.join('\n'), /Error fetching ranges/);
});

test('lookupSubIds dynamic runs getsubids even when the file has an entry', async (t) => {
  const dir = await tempDir(t);
  const subuid = path.join(dir, 'subuid');
  await writeFile(subuid, 'alice:900000:5\n');
  const fake = await fakeGetsubids(dir);
  const r = await lookupSubIds('uid', 'dynamic', alice, { subuidFile: subuid, getsubids: fake.bin });
  t.is(r.origin, 'getsubids');
  t.deepEqual(r.ranges, [
    { start: 100000, count: 65536 },
    { start: 400000, count: 1000 },
  ]);
});

test('lookupSubIds dynamic passes the numeric uid when the name is unknown', async (t) => {
  const dir = await tempDir(t);
  const fake = await fakeGetsubids(dir);
  const r = await lookupSubIds('uid', 'dynamic', { name: undefined, id: 4242 }, { getsubids: fake.bin });
  t.is((await readFile(fake.argsFile, 'utf8')).trim(), '4242');
  t.is(r.ranges.length, 2);
});

test('lookupSubIds dynamic with empty getsubids output gives origin none', async (t) => {
  const dir = await tempDir(t);
  const fake = await fakeGetsubids(dir, { empty: true });
  const r = await lookupSubIds('uid', 'dynamic', alice, { getsubids: fake.bin });
  t.is(r.origin, 'none');
  t.deepEqual(r.ranges, []);
  t.is(r.warnings.length, 1);
});

test('lookupSubIds dynamic with a failing getsubids throws a RootlessError with its stderr', async (t) => {
  const dir = await tempDir(t);
  const fake = await fakeGetsubids(dir, { fail: true });
  const err = await t.throwsAsync(lookupSubIds('uid', 'dynamic', alice, { getsubids: fake.bin }), { instanceOf: RootlessError });
  t.is(err?.step, 'getsubids');
  t.regex(err?.message ?? '', /exit status 1\): Error fetching ranges; second line$/);
});

test('lookupSubIds dynamic with a missing getsubids throws ENOENT', async (t) => {
  const dir = await tempDir(t);
  const err = await t.throwsAsync(
    lookupSubIds('uid', 'dynamic', alice, { getsubids: path.join(dir, 'no-such-getsubids') }),
    { instanceOf: RootlessError },
  );
  t.is(err?.step, 'getsubids');
  t.is(err?.code, 'ENOENT');
});

// ---- free range suggestion (the fallback warning and rootless doctor) ------

test('freeSubIdRange starts at 100000 on a machine without ranges', (t) => {
  t.deepEqual(freeSubIdRange([], 1001), { start: 100000, count: 65536 });
});

test('freeSubIdRange goes after every existing range, whatever the file order', (t) => {
  const taken = parseAllSubIdRanges('bob:165536:65536\n# c\nalice:100000:65536\nbad line\ncarol:x:1\n');
  t.deepEqual(taken.map((r) => [r.owner, r.start, r.count, r.line]), [['bob', 165536, 65536, 1], ['alice', 100000, 65536, 3]]);
  const r = freeSubIdRange(taken, 1001)!;
  t.is(r.start, 231072);
  for (const o of taken) t.false(r.start < o.start + o.count && o.start < r.start + r.count, `overlaps ${o.owner}`);
});

test('freeSubIdRange never contains the user\'s own uid, and gives up at the end of the id space', (t) => {
  t.deepEqual(freeSubIdRange([], 120000), { start: 120001, count: 65536 });
  t.is(freeSubIdRange([{ start: 100000, count: 0xffffffff - 100000 - 10 }], 1001), undefined);
});

test('suggestSubIdRange reads both files, and the fallback warning suggests that free range', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'subid-suggest-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const subuid = path.join(dir, 'subuid');
  const subgid = path.join(dir, 'subgid');
  await writeFile(subuid, 'other:100000:65536\n');
  await writeFile(subgid, 'other:100000:65536\nthird:300000:65536\n');
  t.deepEqual(await suggestSubIdRange(1002, { subuidFile: subuid, subgidFile: subgid }), { start: 365536, count: 65536 });
  t.is(grantSubIdsCommand({ name: 'nosub', id: 1002 }, { start: 365536, count: 65536 }), 'usermod --add-subuids 365536-431071 --add-subgids 365536-431071 nosub');
  t.is(grantSubIdsCommand({ name: undefined, id: 1002 }, { start: 365536, count: 65536 }, true), 'echo 1002:365536:65536 | sudo tee -a /etc/subuid /etc/subgid');

  const plan = await planUserMap('auto', { name: 'nosub', uid: 1002, gid: 1002 }, '/usr/sbin:/usr/bin:/sbin:/bin', {
    subuidFile: subuid, subgidFile: subgid, getsubids: path.join(dir, 'no-getsubids'),
  });
  if (plan.mode === 'single' && plan.warnings.some((w) => /not found in PATH/.test(w))) {
    t.log('newuidmap is not installed here: the warning names the package instead of a range');
    t.regex(plan.warnings.join('\n'), /uidmap/);
    return;
  }
  t.is(plan.mode, 'single');
  const warning = plan.warnings.join('\n');
  t.regex(warning, /usermod --add-subuids 365536-431071 --add-subgids 365536-431071 nosub/);
  t.notRegex(warning, /100000/);
  const err = await t.throwsAsync(planUserMap('static', { name: 'nosub', uid: 1002, gid: 1002 }, undefined, { subuidFile: subuid, subgidFile: subgid }), { instanceOf: RootlessError });
  t.regex(err!.hint ?? '', /usermod --add-subuids 365536-431071/);
});
