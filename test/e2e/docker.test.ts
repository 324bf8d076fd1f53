// The proof that matters most: Debian's docker.io, its dockerd in rootless
// mode (dockerd-rootless.sh, unchanged), started through rootless installed
// under RootlessKit's name, with `docker run -p` publishing a port that
// answers on the host. RootlessKit runs the same scenario first, as the
// reference that the machine can do it at all.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, eventually, userEnv } from '../helpers/rootless.js';
import { launcherUser, type TestUser } from '../helpers/user.js';

const SCRIPT = '/usr/share/docker.io/contrib/dockerd-rootless.sh';
const who = launcherUser();
const missing =
  typeof who === 'string' ? who : !existsSync(SCRIPT) ? `${SCRIPT} missing: install docker.io (scripts/setup-test-env.sh does)` : !existsSync('/bin/busybox') ? 'busybox-static missing' : undefined;
if (missing) test('docker rootless environment', (t) => t.fail(missing));
const U = who as TestUser;
const dockerTest = missing ? test.skip : test.serial;

function userOwned(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  if (U.switchTo) chownSync(dir, U.uid, U.gid);
  return dir;
}

/** A one-binary image: busybox and a page to serve. */
function busyboxTar(): string {
  const root = mkdtempSync(join(tmpdir(), 'rootless-bb-'));
  mkdirSync(join(root, 'bin'));
  mkdirSync(join(root, 'www'));
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'httpd']) symlinkSync('busybox', join(root, 'bin', a));
  writeFileSync(join(root, 'www/index.html'), 'hello-from-container\n');
  const tar = `${root}.tar`;
  spawnSync('tar', ['-C', root, '-cf', tar, '.']);
  chmodSync(tar, 0o644);
  rmSync(root, { recursive: true, force: true });
  return tar;
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
    });
    req.on('error', reject).on('timeout', () => req.destroy(new Error('timeout'))).end();
  });
}

async function dockerScenario(t: import('ava').ExecutionContext, launcherDir: string | undefined, port: number): Promise<void> {
  const runtime = userOwned('rootless-docker-run-');
  const dataRoot = userOwned('rootless-docker-data-');
  const tar = busyboxTar();
  const env = userEnv(U, {
    XDG_RUNTIME_DIR: runtime,
    PATH: `${launcherDir ? `${launcherDir}:` : ''}/usr/share/docker.io/contrib:/usr/bin:/usr/sbin:/bin:/sbin`,
    DOCKER_HOST: `unix://${runtime}/docker.sock`,
  });
  const asUser = U.switchTo ? { uid: U.switchTo.uid, gid: U.switchTo.gid } : {};
  const docker = (...args: string[]) => spawnSync('/usr/bin/docker', args, { env, encoding: 'utf8', timeout: 60_000, ...asUser });
  let log = '';
  const daemon = spawn(SCRIPT, ['--data-root', dataRoot], { env, cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe'], ...asUser });
  daemon.stdout.on('data', (d: Buffer) => (log += d));
  daemon.stderr.on('data', (d: Buffer) => (log += d));
  const exited = new Promise<number | null>((r) => daemon.on('close', (code) => r(code)));
  try {
    const up = await eventually(async () => docker('info').status === 0, 60_000, 250);
    t.true(up, `dockerd did not come up:\n${log.slice(-3000)}`);
    if (!up) return;
    const info = docker('info', '--format', '{{json .SecurityOptions}}');
    t.regex(info.stdout, /rootless/);
    t.is(docker('import', tar, 'local/busybox:1').status, 0);
    const runr = docker('run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'local/busybox:1', 'httpd', '-f', '-p', '80', '-h', '/www');
    t.is(runr.status, 0, runr.stderr);
    let body = '';
    await eventually(async () => {
      body = await httpGet(port).catch(() => '');
      return body !== '';
    }, 20_000, 200);
    t.is(body, 'hello-from-container\n');
    t.is(docker('rm', '-f', 'web').status, 0);
    const freed = await eventually(async () => (await httpGet(port).then(() => false, () => true)), 10_000, 200);
    t.true(freed, 'the published port is closed after the container is removed');
  } finally {
    daemon.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    if (code === 'timeout') daemon.kill('SIGKILL');
    // Layers belong to sub-ids: remove as root, or inside a session as the user.
    if (process.getuid!() === 0) rmSync(dataRoot, { recursive: true, force: true });
    else spawnSync(BIN, ['run', '--', 'rm', '-rf', dataRoot]);
    rmSync(runtime, { recursive: true, force: true });
    rmSync(tar, { force: true });
  }
}

dockerTest('reference: dockerd-rootless.sh under RootlessKit publishes a port with docker run -p', async (t) => {
  t.timeout(180_000);
  await dockerScenario(t, undefined, 24080);
});

dockerTest('dockerd-rootless.sh under rootless (as "rootlesskit") publishes a port with docker run -p', async (t) => {
  t.timeout(180_000);
  const dir = mkdtempSync(join(tmpdir(), 'rootless-as-rk-'));
  chmodSync(dir, 0o755);
  symlinkSync(BIN, join(dir, 'rootlesskit'));
  try {
    await dockerScenario(t, dir, 24081);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
