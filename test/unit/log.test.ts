import test from 'ava';
import { createLogger, safeFields, textLine } from '../../src/cli/log.js';

function capture(level: Parameters<typeof createLogger>[0], format: 'text' | 'json') {
  const out: string[] = [];
  const log = createLogger(level, { format, write: (s) => void out.push(s) });
  return { log, out };
}

test('text: warnings and errors are "rootless: warning:" / "rootless: error:" lines with key=value fields', (t) => {
  const { log, out } = capture('info', 'text');
  log.warn({ controller: 'cpu', code: 'EACCES' }, 'cannot enable a cgroup controller');
  log.error('it failed');
  log.debug('not shown at info');
  t.deepEqual(out, [
    'rootless: warning: cannot enable a cgroup controller (controller=cpu code=EACCES)\n',
    'rootless: error: it failed\n',
  ]);
});

test('text: --debug lines stay one line each, values with spaces quoted, arrays as JSON', (t) => {
  const { log, out } = capture('debug', 'text');
  log.debug({ argv: ['/usr/bin/slirp4netns', '--mtu', '65520'], path: '/tmp/a b', pid: 7, gone: undefined }, 'network driver started\nsecond line');
  t.is(out.length, 1);
  t.is(out[0], 'rootless: debug: network driver started second line (argv=["/usr/bin/slirp4netns","--mtu","65520"] path="/tmp/a b" pid=7)\n');
});

test('json: one record per line, no duplicate keys even when a field is called pid', (t) => {
  const { log, out } = capture('debug', 'json');
  log.debug({ driver: 'slirp4netns', pid: 4242, msg: 'x' }, 'network driver started');
  log.warn('plain');
  t.is(out.length, 2);
  const line = out[0]!;
  const keys = [...line.matchAll(/"([a-zA-Z_]+)":/g)].map((m) => m[1]);
  t.is(new Set(keys).size, keys.length, `duplicate keys in ${line}`);
  const rec = JSON.parse(line) as Record<string, unknown>;
  t.is(rec.pid, process.pid);
  t.is(rec.field_pid, 4242);
  t.is(rec.field_msg, 'x');
  t.is(rec.msg, 'network driver started');
  t.is(rec.level, 20);
  t.is((JSON.parse(out[1]!) as { level: number }).level, 40);
});

test('safeFields leaves ordinary fields alone (same object) and renames reserved ones', (t) => {
  const f = { a: 1 };
  t.is(safeFields(f), f);
  t.deepEqual(safeFields({ time: 1, name: 'n', b: 2 }), { b: 2, field_time: 1, field_name: 'n' });
});

test('the level filter: silent prints nothing, and the text formatter is usable alone', (t) => {
  const { log, out } = capture('silent', 'text');
  log.error('x');
  t.deepEqual(out, []);
  t.false(log.enabled('error'));
  t.is(textLine('info', 'hi', {}), 'rootless: info: hi\n');
});
