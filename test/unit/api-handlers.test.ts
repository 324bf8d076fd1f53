// The REST API's routes against a fake port driver: status codes, bodies,
// RootlessKit's field names and order.
import test from 'ava';
import { route, infoJSON, type ApiBackend } from '../../src/api/handlers.js';
import { PortError, PortManager, type OpenPort } from '../../src/port/manager.js';
import type { PortSpec } from '../../src/port/spec.js';
import { goTabwriter, columns, parseArgs } from '../../src/cli/api-args.js';
import { UsageError } from '../../src/sys/errors.js';

class FakeDriver extends PortManager {
  readonly info = { driver: 'fake', protos: ['tcp', 'udp'] };
  opened: number[] = [];
  closed: number[] = [];
  failNext = false;
  protected async open(_spec: PortSpec, id: number): Promise<OpenPort> {
    if (this.failNext) {
      this.failNext = false;
      throw new PortError('127.0.0.1:1:1/tcp: 127.0.0.1:1/tcp is already in use on the host');
    }
    this.opened.push(id);
    return { close: async () => void this.closed.push(id) };
  }
}

function backend(ports?: FakeDriver): ApiBackend {
  return { version: '9.9.9', stateDir: '/run/x', childPID: 42, network: { driver: 'slirp4netns', dns: ['10.0.2.3'], childIP: '10.0.2.100' }, ...(ports ? { ports } : {}) };
}

const body = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
const none = Buffer.alloc(0);

test('GET /v1/info: RootlessKit fields, in its order', async (t) => {
  const r = await route(backend(new FakeDriver()), 'GET', '/v1/info', none);
  t.is(r.status, 200);
  t.is(JSON.stringify(r.body), '{"apiVersion":"1.1.1","version":"9.9.9","stateDir":"/run/x","childPID":42,"networkDriver":{"driver":"slirp4netns","dns":["10.0.2.3"],"childIP":"10.0.2.100"},"portDriver":{"driver":"fake","protos":["tcp","udp"]}}');
  t.deepEqual(Object.keys(infoJSON({ version: 'v', stateDir: '/s', childPID: 1 })), ['apiVersion', 'version', 'stateDir', 'childPID']);
});

test('ports: add, list, delete; ids count up; conflicts and unknown ids are 400', async (t) => {
  const d = new FakeDriver();
  const b = backend(d);
  let r = await route(b, 'POST', '/v1/ports', body({ proto: 'tcp', parentPort: 8080, childPort: 80 }));
  t.is(r.status, 201);
  t.deepEqual(r.body, { id: 1, spec: { proto: 'tcp', parentPort: 8080, childPort: 80 } });
  r = await route(b, 'POST', '/v1/ports', body({ proto: 'udp', parentIP: '127.0.0.1', parentPort: 53, childIP: '10.0.2.100', childPort: 53 }));
  t.is(JSON.stringify(r.body), '{"id":2,"spec":{"proto":"udp","parentIP":"127.0.0.1","parentPort":53,"childPort":53,"childIP":"10.0.2.100"}}');
  r = await route(b, 'POST', '/v1/ports', body({ proto: 'tcp', parentPort: 8080, childPort: 81 }));
  t.deepEqual(r, { status: 400, body: { message: 'conflict with ID 1' } });
  r = await route(b, 'POST', '/v1/ports', body({ proto: 'tcp6', parentPort: 8081, childPort: 81 }));
  t.is(r.status, 400);
  t.regex((r.body as { message: string }).message, /proto tcp6 is not supported by the fake port driver/);
  d.failNext = true;
  r = await route(b, 'POST', '/v1/ports', body({ proto: 'tcp', parentPort: 9, childPort: 9 }));
  t.is(r.status, 400);
  t.regex((r.body as { message: string }).message, /already in use/);
  r = await route(b, 'GET', '/v1/ports?x=1', none);
  t.deepEqual((r.body as { id: number }[]).map((p) => p.id), [1, 2]);
  t.deepEqual(await route(b, 'DELETE', '/v1/ports/1', none), { status: 200 });
  t.deepEqual(d.closed, [1]);
  t.deepEqual(await route(b, 'DELETE', '/v1/ports/1', none), { status: 400, body: { message: 'unknown id: 1' } });
  t.is((await route(b, 'DELETE', '/v1/ports/-1', none)).status, 400);
  t.is((await route(b, 'DELETE', '/v1/ports/%zz', none)).status, 400);
  // After a failed open, the next id is still fresh and the table clean.
  r = await route(b, 'POST', '/v1/ports', body({ proto: 'tcp', parentPort: 8080, childPort: 80 }));
  t.is(r.status, 201);
});

test('no port driver: RootlessKit message; paths and methods', async (t) => {
  const b = backend();
  t.deepEqual(await route(b, 'GET', '/v1/ports', none), { status: 400, body: { message: 'no PortDriver is available' } });
  t.is((await route(b, 'GET', '/v1/info', none)).status, 200);
  const r404 = await route(b, 'GET', '/', none);
  t.is(r404.status, 404);
  const r405 = await route(b, 'PATCH', '/v1/ports', none);
  t.is(r405.status, 405);
  t.is(r405.headers?.Allow, 'GET, POST');
  t.is((await route(b, 'GET', '/v1/ports/', none)).status, 404);
});

test('addAll is all or nothing', async (t) => {
  const d = new FakeDriver();
  const specs: PortSpec[] = [
    { proto: 'tcp', parentIP: '', parentPort: 1, childPort: 1 },
    { proto: 'tcp', parentIP: '', parentPort: 2, childPort: 2 },
    { proto: 'tcp', parentIP: '', parentPort: 1, childPort: 3 },
  ];
  await t.throwsAsync(() => d.addAll(specs), { message: 'conflict with ID 1' });
  t.deepEqual(d.list(), []);
  t.deepEqual(d.closed, [1, 2]);
});

test('goTabwriter matches rootlessctl list-ports', (t) => {
  const out = goTabwriter([
    ['ID', 'PROTO', 'PARENTIP', 'PARENTPORT', 'CHILDIP', 'CHILDPORT'],
    ['1', 'tcp', '127.0.0.1', '22999', '', '80'],
  ]);
  t.is(out, 'ID    PROTO    PARENTIP     PARENTPORT    CHILDIP    CHILDPORT    \n1     tcp      127.0.0.1    22999                    80           \n');
  t.is(columns([['a', 'bb'], ['ccc', 'd']]), 'a    bb\nccc  d\n');
});

test('parseArgs: values, booleans, aliases, unknown flags', (t) => {
  const a = parseArgs(['--socket=/s', 'ls', '--json', '-h', '--', '--x'], ['socket'], ['json', 'help'], 'p', { h: 'help' });
  t.is(a.values.get('socket'), '/s');
  t.true(a.flags.has('json') && a.flags.has('help'));
  t.deepEqual(a.positionals, ['ls', '--x']);
  t.throws(() => parseArgs(['--nope'], [], [], 'rootless ports'), { instanceOf: UsageError, message: 'rootless ports: unknown flag --nope' });
  t.throws(() => parseArgs(['--socket'], ['socket'], [], 'p'), { message: 'p: --socket: missing value' });
});
