// rootless doctor on this machine, for real: as the test user (ready, the
// trial maps the sub-ids) and as the user without sub-ids (the sub-id checks
// fail with a range that is free here, exit 1).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { run } from '../helpers/rootless.js';
import { NOSUB_USER_NAME, launcherUser, type TestUser } from '../helpers/user.js';

interface Doc {
  ok: boolean;
  checks: Array<{ name: string; status: 'ok' | 'warn' | 'fail'; message: string; fix?: string }>;
}

/** The document --json prints, validated against its documented shape. */
function parseDoc(t: import('ava').ExecutionContext, stdout: string): Doc {
  const doc = JSON.parse(stdout) as Record<string, unknown>;
  t.deepEqual(Object.keys(doc).sort(), ['checks', 'ok']);
  t.is(typeof doc.ok, 'boolean');
  t.true(Array.isArray(doc.checks));
  for (const c of doc.checks as Array<Record<string, unknown>>) {
    t.deepEqual(Object.keys(c).filter((k) => !['name', 'status', 'message', 'fix'].includes(k)), [], JSON.stringify(c));
    t.true(['ok', 'warn', 'fail'].includes(c.status as string), JSON.stringify(c));
    t.is(typeof c.name, 'string');
    t.is(typeof c.message, 'string');
    if (c.status !== 'ok') t.is(typeof c.fix, 'string', `${String(c.name)} is not ok and has no fix`);
  }
  const d = doc as unknown as Doc;
  t.is(d.ok, !d.checks.some((c) => c.status === 'fail'));
  return d;
}

const user = launcherUser();
const nosub = launcherUser(NOSUB_USER_NAME);
for (const [who, u] of [['test user', user], ['no-sub-id user', nosub]] as const) {
  if (typeof u === 'string') test.skip(`rootless doctor as the ${who} (skipped: ${u})`, () => {});
}
const e2e = typeof user === 'string' ? test.skip : test;
const nosubTest = typeof nosub === 'string' || !nosub.switchTo ? test.skip : test;

e2e('as the test user: ready (exit 0), the trial maps the sub-ids; text and --json agree', async (t) => {
  const U = user as TestUser;
  const r = await run(U, ['doctor', '--json'], { timeoutMs: 60_000 });
  t.is(r.stderr, '');
  const doc = parseDoc(t, r.stdout);
  t.is(r.code, 0, r.stdout);
  t.true(doc.ok);
  const trial = doc.checks.find((c) => c.name === 'trial');
  t.is(trial?.status, 'ok', trial?.message);
  t.regex(trial!.message, new RegExp(`in \\d+ ms \\(uid map: 0 ${U.uid} 1, 1 \\d+ \\d+\\)`));
  t.log(trial!.message);
  for (const name of ['max_user_namespaces', 'newuidmap', 'newgidmap', 'no_new_privs', 'subuid', 'subgid']) {
    t.is(doc.checks.find((c) => c.name === name)?.status, 'ok', name);
  }

  const text = await run(U, ['doctor'], { timeoutMs: 60_000 });
  t.is(text.code, 0, text.stdout);
  const lines = text.stdout.trimEnd().split('\n');
  t.is(lines[0], `rootless doctor: checking this machine for ${U.name} (uid ${U.uid})`);
  for (const c of doc.checks) t.true(lines.some((l) => l.startsWith(`${c.status.padEnd(4)}  ${c.name} `)), `${c.name} in text`);
  t.regex(lines.at(-1)!, /^ready: nothing required fails/);
});

nosubTest('as the user without sub-ids: the sub-id checks fail with a free range, exit 1', async (t) => {
  const N = nosub as TestUser;
  const r = await run(N, ['doctor', '--json'], { timeoutMs: 60_000 });
  t.is(r.code, 1, r.stdout);
  const doc = parseDoc(t, r.stdout);
  t.false(doc.ok);
  const subuid = doc.checks.find((c) => c.name === 'subuid')!;
  t.is(subuid.status, 'fail');
  t.regex(subuid.message, new RegExp(`no sub-uid range for ${N.name}`));
  const m = new RegExp(`^sudo usermod --add-subuids (\\d+)-(\\d+) --add-subgids \\1-\\2 ${N.name}$`).exec(subuid.fix ?? '');
  t.truthy(m, subuid.fix);
  const [a, b] = [Number(m![1]), Number(m![2])];
  t.is(b - a + 1, 65536);
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [owner, start, count] = line.trim().split(':');
      if (!owner || owner.startsWith('#') || start === undefined || count === undefined) continue;
      const [s, e] = [Number(start), Number(start) + Number(count) - 1];
      t.false(a <= e && s <= b, `${a}-${b} overlaps ${file}: ${line}`);
    }
  }
  t.false(a <= N.uid && N.uid <= b, 'the range does not contain the user\'s uid');
  // The trial still makes a namespace, with the single mapping only.
  const trial = doc.checks.find((c) => c.name === 'trial')!;
  t.is(trial.status, 'warn', trial.message);
  t.regex(trial.message, new RegExp(`uid map: 0 ${N.uid} 1\\)`));

  const text = await run(N, ['doctor'], { timeoutMs: 60_000 });
  t.is(text.code, 1);
  t.regex(text.stdout, new RegExp(`^fail  subuid .*\\n +fix: sudo usermod --add-subuids ${a}-${b} `, 'm'));
  t.regex(text.stdout, /\nnot ready: 2 checks failed/);
});

e2e('bad arguments: one line naming it, exit 2; --help: usage, exit 0', async (t) => {
  const U = user as TestUser;
  const bad = await run(U, ['doctor', '--jsn']);
  t.is(bad.code, 2);
  t.is(bad.stderr, 'rootless doctor: unknown flag --jsn (usage: rootless doctor [--json])\n');
  const help = await run(U, ['doctor', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: rootless doctor \[--json\]/);
});
