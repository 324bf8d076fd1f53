import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { openSession } from 'rootless';

// uid 1000 inside is your first sub-uid + 999 outside (/etc/subuid: name:start:count).
const { username, uid } = userInfo();
const line = readFileSync('/etc/subuid', 'utf8').split('\n').find((l) => l.startsWith(`${username}:`) || l.startsWith(`${uid}:`));
const subuid = Number(line.split(':')[1]);

let s, dir;
before(async () => {
  s = await openSession();
  dir = mkdtempSync(join(tmpdir(), 'mytest-'));
});
after(async () => {
  await s.removeTree(dir); // the sub-uid's files: you cannot remove them from outside
  await s.close();
});

test('root-owned and uid-1000-owned files', async () => {
  const r = await s.run(['sh', '-c', 'touch a b && chown 1000:1000 b && id -u'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '0\n');
  assert.equal(statSync(join(dir, 'a')).uid, uid);          // root inside is you outside
  assert.equal(statSync(join(dir, 'b')).uid, subuid + 999); // a real sub-uid, not a faked one
});
