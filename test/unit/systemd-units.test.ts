// The example units in contrib/systemd/ parse and verify with systemd's own
// checker (`systemd-analyze --user verify`, which needs no running manager)
// and carry the settings docs/systemd.md explains.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const DIR = join(REPO, 'contrib/systemd');
const units = readdirSync(DIR).filter((f) => f.endsWith('.service'));

const scratch = mkdtempSync(join(tmpdir(), 'rootless-units-'));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));

test('there are example units', (t) => {
  t.deepEqual(units.sort(), ['docker.service', 'rootless-daemon.service']);
});

function settings(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) m.set(match[1]!, [...(m.get(match[1]!) ?? []), match[2]!]);
  }
  return m;
}

for (const unit of units) {
  test(`${unit}: the settings docs/systemd.md explains`, (t) => {
    const s = settings(readFileSync(join(DIR, unit), 'utf8'));
    t.deepEqual(s.get('Type'), ['notify']);
    t.deepEqual(s.get('NotifyAccess'), ['all']);
    t.deepEqual(s.get('KillMode'), ['mixed']);
    t.deepEqual(s.get('Delegate'), ['yes']);
    t.deepEqual(s.get('ExecReload'), ['/bin/kill -s HUP $MAINPID']);
    t.deepEqual(s.get('Restart'), ['on-failure']);
    t.deepEqual(s.get('WantedBy'), ['default.target']);
  });

  test(`${unit}: systemd-analyze --user verify accepts it`, async (t) => {
    // verify checks that ExecStart's program exists: point it at this checkout's.
    const text = readFileSync(join(DIR, unit), 'utf8').replaceAll('/usr/local/bin/rootless ', `${REPO}bin/rootless `);
    const file = join(scratch, unit);
    writeFileSync(file, text);
    const runtime = mkdtempSync(join(scratch, 'xdg-'));
    const r = await promisify(execFile)('systemd-analyze', ['--user', 'verify', file], {
      env: { PATH: process.env.PATH, XDG_RUNTIME_DIR: runtime, HOME: scratch },
    }).then(
      (o) => ({ code: 0, stderr: o.stderr }),
      (e: { code?: number; stderr?: string }) => ({ code: e.code, stderr: e.stderr ?? '' }),
    );
    t.is(r.code, 0, r.stderr);
    t.is(r.stderr, '');
  });
}
