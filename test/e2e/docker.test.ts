// The proof that matters most: Debian's docker.io, its dockerd in rootless
// mode (dockerd-rootless.sh, unchanged), started through rootless installed
// under RootlessKit's name, with `docker run -p` publishing a port that
// answers on the host. RootlessKit runs the same scenario first, as the
// reference that the machine can do it at all.
//
// Everything the daemon uses is this run's own: XDG_RUNTIME_DIR (so its
// RootlessKit state dir, docker.sock, containerd and exec root), --data-root,
// --pidfile, the DOCKER_HOST socket, and the published host port, which the
// kernel picks. A second run of the suite meets none of it.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { BIN, PortClash, U, e2eUnless, eventually, noUser, removeTree, tempDir, userDir, userEnv, withPorts } from '../helpers/e2e.js';

const SCRIPT = '/usr/share/docker.io/contrib/dockerd-rootless.sh';
const missing = !existsSync(SCRIPT) ? `${SCRIPT} missing: install docker.io (scripts/setup-test-env.sh does)` : !existsSync('/bin/busybox') ? 'busybox-static missing' : undefined;
if (missing && noUser === undefined) test('docker rootless environment', (t) => t.fail(missing));
const dockerTest = e2eUnless(missing ?? noUser, { serial: true });

/** A one-binary image: busybox and a page to serve. */
function busyboxTar(): string {
  const root = tempDir('rootless-bb-');
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

async function dockerScenario(t: import('ava').ExecutionContext, launcherDir: string | undefined): Promise<void> {
  const runtime = userDir('rootless-docker-run-');
  const dataRoot = userDir('rootless-docker-data-');
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
    const up = await eventually(async () => docker('info').status === 0, 120_000, 250);
    t.true(up, `dockerd did not come up:\n${log.slice(-3000)}`);
    if (!up) return;
    const info = docker('info', '--format', '{{json .SecurityOptions}}');
    t.regex(info.stdout, /rootless/);
    t.is(docker('import', tar, 'local/busybox:1').status, 0);
    await withPorts(1, async ([port]) => {
      const runr = docker('run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'local/busybox:1', 'httpd', '-f', '-p', '80', '-h', '/www');
      if (runr.status !== 0 && /already in use|address already in use/i.test(runr.stderr)) {
        docker('rm', '-f', 'web');
        throw new PortClash(runr.stderr);
      }
      t.is(runr.status, 0, runr.stderr);
      let body = '';
      await eventually(async () => {
        body = await httpGet(port!).catch(() => '');
        return body !== '';
      }, 60_000, 200);
      t.is(body, 'hello-from-container\n');
      t.is(docker('rm', '-f', 'web').status, 0);
      const freed = await eventually(async () => (await httpGet(port!).then(() => false, () => true)), 30_000, 200);
      t.true(freed, 'the published port is closed after the container is removed');
    });
  } finally {
    daemon.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    if (code === 'timeout') daemon.kill('SIGKILL');
    // Layers belong to sub-ids: removeTree removes as root, or inside a session as the user.
    removeTree(dataRoot);
    removeTree(runtime);
    rmSync(tar, { force: true });
  }
}

dockerTest('reference: dockerd-rootless.sh under RootlessKit publishes a port with docker run -p', async (t) => {
  t.timeout(180_000);
  await dockerScenario(t, undefined);
});

dockerTest('dockerd-rootless.sh under rootless (as "rootlesskit") publishes a port with docker run -p', async (t) => {
  t.timeout(180_000);
  const dir = tempDir('rootless-as-rk-');
  symlinkSync(BIN, join(dir, 'rootlesskit'));
  await dockerScenario(t, dir);
});
