// What the launcher writes on stderr: text lines by default wherever stderr
// goes (here a pipe, as under systemd or CI), JSON records only when asked,
// with no key twice in a record.
import test from 'ava';
import { run as apiRun, runArgv } from '../../src/index.js';
import { run, userEnv } from '../helpers/rootless.js';
import { NOSUB_USER_NAME, launcherUser, type TestUser } from '../helpers/user.js';

const who = launcherUser();
const e2e = typeof who === 'string' ? test.skip : test;
if (typeof who === 'string') test.skip(`launcher logs (skipped: ${who})`, () => {});
const nosub = launcherUser(NOSUB_USER_NAME);
const nosubTest = typeof nosub === 'string' || !nosub.switchTo ? test.skip : test;

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

/** The keys of one JSON object text, in order, duplicates kept (JSON.parse would hide them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (ch === '{' || ch === '[') {
      depth++;
      expectKey = ch === '{' && depth === 1;
    } else if (ch === '}' || ch === ']') depth--;
    else if (ch === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

test('the duplicate-key finder sees duplicates', (t) => {
  t.deepEqual(topLevelKeys('{"a":1,"pid":2,"b":{"pid":3},"pid":4}'), ['a', 'pid', 'b', 'pid']);
});

e2e('--debug on a pipe: readable text lines "rootless: debug: message (key=value ...)", no JSON', async (t) => {
  const U = who as TestUser;
  const r = await run(U, ['run', '--debug', '--net=slirp4netns', '--', 'true']);
  t.is(r.code, 0, r.stderr);
  const ls = lines(r.stderr);
  t.true(ls.length > 3, r.stderr);
  for (const l of ls) t.regex(l, /^rootless: (debug|info|warning): \S/, l);
  t.true(ls.some((l) => /^rootless: debug: network driver started \(driver=slirp4netns driverPid=\d+ argv=\[/.test(l)), r.stderr);
});

e2e('--log-format=json: every line is one JSON record without a repeated key; the driver pid has its own name', async (t) => {
  const U = who as TestUser;
  const r = await run(U, ['run', '--debug', '--log-format=json', '--net=slirp4netns', '--', 'true']);
  t.is(r.code, 0, r.stderr);
  const ls = lines(r.stderr);
  t.true(ls.length > 3, r.stderr);
  for (const l of ls) {
    const keys = topLevelKeys(l);
    t.is(new Set(keys).size, keys.length, `repeated key in ${l}`);
    const rec = JSON.parse(l) as Record<string, unknown>;
    t.is(typeof rec.level, 'number');
    t.is(typeof rec.msg, 'string');
  }
  const started = ls.map((l) => JSON.parse(l) as Record<string, unknown>).find((rec) => rec.msg === 'network driver started');
  t.truthy(started, r.stderr);
  t.is(typeof started!.driverPid, 'number');
  t.not(started!.driverPid, started!.pid);
});

e2e('a launcher error: "rootless: error: ..." in text, a level-50 record with step and code in json', async (t) => {
  const U = who as TestUser;
  const text = await run(U, ['run', '--net=slirp4netns', '--slirp4netns-binary=/nonexistent/slirp4netns', '--', 'true']);
  t.is(text.code, 125);
  t.regex(text.stderr, /^rootless: error: \/nonexistent\/slirp4netns: no such file/);
  const json = await run(U, ['run', '--log-format=json', '--net=slirp4netns', '--slirp4netns-binary=/nonexistent/slirp4netns', '--', 'true']);
  t.is(json.code, 125);
  const recs = lines(json.stderr).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(recs.length, 1, json.stderr);
  t.is(recs[0]!.level, 50);
  t.regex(String(recs[0]!.msg), /\/nonexistent\/slirp4netns: no such file/);
  t.is(typeof recs[0]!.step, 'string');
});

nosubTest('the sub-id fallback warning is a text line on a pipe, and JSON when asked', async (t) => {
  const N = nosub as TestUser;
  const text = await run(N, ['run', '--', 'true']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stderr, /^rootless: warning: no sub-uid range for \S+ \(\/etc\/subuid\): mapping only uid \d+ .*usermod --add-subuids \d+-\d+ --add-subgids \d+-\d+ \S+, or pass --subid-source=none/);
  t.is(lines(text.stderr).length, 1);
  const json = await run(N, ['run', '--log-format=json', '--', 'true']);
  const rec = JSON.parse(lines(json.stderr)[0]!) as Record<string, unknown>;
  t.is(rec.level, 40);
  t.regex(String(rec.msg), /no sub-uid range/);
});

e2e('the Node API asks for JSON logs with logFormat', async (t) => {
  const U = who as TestUser;
  t.deepEqual(runArgv(['true'], { logFormat: 'json' }), ['run', '--log-format=json', '--', 'true']);
  const r = await apiRun(['true'], { logFormat: 'json', logLevel: 'debug' }, { env: userEnv(U), ...(U.switchTo ?? {}) });
  t.is(r.code, 0, r.stderr);
  const ls = lines(r.stderr);
  t.true(ls.length > 0);
  for (const l of ls) t.is(typeof (JSON.parse(l) as { level: unknown }).level, 'number', l);
});

e2e('--log-format with a bad value: one line naming the flag and the value, exit 2', async (t) => {
  const U = who as TestUser;
  const r = await run(U, ['run', '--log-format=yaml', '--', 'true']);
  t.is(r.code, 2);
  t.regex(r.stderr, /^rootless run: --log-format: invalid value "yaml"/);
  t.is(lines(r.stderr).length, 1);
});
