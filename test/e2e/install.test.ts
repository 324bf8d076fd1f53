// The packed tarball, installed the way a user installs it: `npm install -g`
// into a fresh prefix, as the unprivileged test user, with no compiler,
// cmake or make on PATH; and as a dependency of a fresh ESM project that
// calls the Node API. The tarball is $ROOTLESS_TEST_TARBALL (.ci/run packs
// it with `npm pack`), or else this test packs a copy of the tree (so that
// the build it triggers cannot change the tree other tests run from).
import test from 'ava';
import { execFile, type ExecFileOptions } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/rootless.js';
import { launcherUser, type TestUser } from '../helpers/user.js';

const user = launcherUser();

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: ExecFileOptions = {}): Promise<Out> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as NodeJS.ErrnoException).code === 'number' ? ((err as unknown as { code: number }).code) : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Which program a name resolves to on a PATH (as `command -v` does), or undefined. */
function which(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

// What the test user's PATH offers: only these, as symlinks in one directory.
const TOOLS = ['node', 'npm', 'npx', 'sh', 'env', 'id', 'readlink', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'uname', 'dirname', 'true', 'newuidmap', 'newgidmap'];
const BUILD_TOOLS = ['cmake', 'g++', 'c++', 'gcc', 'cc', 'clang++', 'make', 'ninja'];

interface Setup {
  dir: string;
  tarball: string;
  bin: string; // the restricted PATH directory
  prefix: string;
  /** The user's HOME, writable by them. */
  home: string;
  env: NodeJS.ProcessEnv;
  install: Out;
  installMs: number;
}

let setup: Setup | string;

function asUser(u: TestUser): ExecFileOptions {
  return u.switchTo ? { uid: u.switchTo.uid, gid: u.switchTo.gid } : {};
}

/** npm's cafile (the registry here needs it); kept for a --prefix install, whose global config differs. */
async function npmCafile(): Promise<string | undefined> {
  const r = await run('npm', ['config', 'get', 'cafile']);
  const v = r.stdout.trim();
  return r.code === 0 && v !== '' && v !== 'null' && v !== 'undefined' ? v : process.env.NODE_EXTRA_CA_CERTS;
}

async function packCopy(dir: string): Promise<string> {
  // The files `npm pack` builds from; node_modules shared (read-only use).
  const stage = join(dir, 'stage');
  mkdirSync(stage);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.pack.json', 'CMakeLists.txt', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin', 'src', 'addon', 'scripts']) {
    cpSync(join(REPO, f), join(stage, f), { recursive: true });
  }
  symlinkSync(join(REPO, 'node_modules'), join(stage, 'node_modules'));
  const r = await run('npm', ['pack', '--pack-destination', dir], { cwd: stage });
  if (r.code !== 0) throw new Error(`npm pack failed: ${r.stderr.slice(-2000)}`);
  const name = r.stdout.trim().split('\n').pop()!;
  return join(dir, name);
}

test.before(async (t) => {
  t.timeout(20 * 60_000, 'packing and installing');
  if (typeof user === 'string') {
    setup = user;
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'rootless-install-'));
  chmodSync(dir, 0o755);

  const given = process.env.ROOTLESS_TEST_TARBALL;
  const packed = given ? given : await packCopy(dir);
  const tarball = join(dir, 'rootless.tgz');
  cpSync(packed, tarball);
  chmodSync(tarball, 0o644);

  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of TOOLS) {
    const p = which(tool);
    if (p) symlinkSync(p, join(bin, tool));
  }
  const prefix = join(dir, 'prefix');
  const home = join(dir, 'home');
  for (const d of [prefix, home]) {
    mkdirSync(d);
    if (user.switchTo) chownSync(d, user.switchTo.uid, user.switchTo.gid);
  }
  const cafile = await npmCafile();
  const env: NodeJS.ProcessEnv = {
    PATH: `${join(prefix, 'bin')}:${bin}`,
    HOME: home, // a fresh npm cache and config: a first install, as a new user's
    USER: user.name,
    LANG: 'C.UTF-8',
    ...(cafile ? { npm_config_cafile: cafile, NODE_EXTRA_CA_CERTS: cafile } : {}),
    ...(process.env.npm_config_registry ? { npm_config_registry: process.env.npm_config_registry } : {}),
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  const t0 = process.hrtime.bigint();
  const install = await run('npm', ['install', '-g', '--prefix', prefix, tarball], { ...asUser(user), env, cwd: home });
  const installMs = Number(process.hrtime.bigint() - t0) / 1e6;
  setup = { dir, tarball, bin, prefix, home, env, install, installMs };
});

test.after.always(() => {
  if (typeof setup === 'object') rmSync(setup.dir, { recursive: true, force: true });
});

function ready(t: { log(...v: unknown[]): void; fail(m: string): void; }): Setup | undefined {
  if (typeof setup === 'string') {
    t.fail(`no test user: ${setup}`);
    return undefined;
  }
  return setup;
}

function duKiB(path: string): number {
  let total = 0;
  const walk = (p: string): void => {
    const s = statSync(p, { throwIfNoEntry: false });
    if (!s) return;
    total += s.blocks * 512;
    if (s.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(path);
  return Math.round(total / 1024);
}

test.serial('the test user has no cmake, compiler or make on PATH', async (t) => {
  const s = ready(t);
  if (!s) return;
  for (const tool of BUILD_TOOLS) {
    const r = await run('sh', ['-c', `command -v ${tool}`], { ...asUser(user as TestUser), env: s.env });
    t.not(r.code, 0, `${tool} is reachable: ${r.stdout}`);
  }
});

test.serial('npm install -g of the tarball succeeds without build tools', (t) => {
  const s = ready(t);
  if (!s) return;
  t.is(s.install.code, 0, s.install.stderr);
  const pkg = join(s.prefix, 'lib', 'node_modules', 'rootless');
  t.false(existsSync(join(pkg, 'build')), 'nothing was built at install: the prebuilt addon is used');
  // A user install pulls only what runs.
  const deps = readdirSync(join(pkg, 'node_modules')).sort();
  for (const dev of ['cmake-js', 'node-addon-api', 'node-api-headers', 'typescript', 'ava', 'esbuild']) t.false(deps.includes(dev), dev);
  t.true(deps.includes('node-gyp-build') && deps.includes('commander') && deps.includes('pino'));
  t.log(
    `install: ${(s.installMs / 1000).toFixed(1)} s (fresh npm cache); tarball ${(statSync(s.tarball).size / 1024).toFixed(0)} KiB; ` +
      `installed ${duKiB(pkg)} KiB in ${deps.length} packages under rootless/node_modules (+ the package)`,
  );
});

test.serial('the tarball carries prebuilt addons and no source maps', async (t) => {
  const s = ready(t);
  if (!s) return;
  const pkg = join(s.prefix, 'lib', 'node_modules', 'rootless');
  // ELF e_machine: 62 x86-64, 183 AArch64.
  const machine = (f: string): number => readFileSync(f).readUInt16LE(18);
  t.is(machine(join(pkg, 'prebuilds', 'linux-x64', 'node.napi.glibc.node')), 62);
  const arm = join(pkg, 'prebuilds', 'linux-arm64', 'node.napi.glibc.node');
  if (existsSync(arm)) t.is(machine(arm), 183);
  else t.log('no linux-arm64 prebuild (g++-aarch64-linux-gnu was not installed where it was packed)');
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(p);
      } else files.push(p);
    }
  };
  walk(pkg);
  t.deepEqual(files.filter((f) => f.endsWith('.map')), []);
  const withMaps = files.filter((f) => /\.(c?js)$/.test(f) && readFileSync(f, 'utf8').includes('sourceMappingURL'));
  t.deepEqual(withMaps, []);
  for (const f of ['LICENSE', 'README.md', 'CHANGELOG.md']) t.true(files.includes(join(pkg, f)), f);
});

test.serial('rootless run -- id -u prints 0 from the global install', async (t) => {
  const s = ready(t);
  if (!s) return;
  const r = await run('rootless', ['run', '--', 'id', '-u'], { ...asUser(user as TestUser), env: s.env, cwd: s.dir });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '0\n');
});

test.serial('rootless --version and rootless run --version print the version', async (t) => {
  const s = ready(t);
  if (!s) return;
  const version = (JSON.parse(readFileSync(join(s.prefix, 'lib', 'node_modules', 'rootless', 'package.json'), 'utf8')) as { version: string }).version;
  for (const args of [['--version'], ['run', '--version']]) {
    const r = await run('rootless', args, { ...asUser(user as TestUser), env: s.env, cwd: s.dir });
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, `rootless version ${version}\n`, args.join(' '));
  }
});

test.serial('without a usable addon and no build tools: one line naming them, exit 125', async (t) => {
  const s = ready(t);
  if (!s) return;
  // The installed package as it is where no prebuilt matches: no prebuilds/.
  const copy = join(s.home, 'noprebuild');
  const u = user as TestUser;
  let r = await run('cp', ['-a', join(s.prefix, 'lib', 'node_modules', 'rootless'), copy], { ...asUser(u), env: s.env });
  t.is(r.code, 0, r.stderr);
  rmSync(join(copy, 'prebuilds'), { recursive: true });
  r = await run(join(copy, 'bin', 'rootless'), ['run', '--', 'id', '-u'], { ...asUser(u), env: s.env, cwd: s.dir });
  t.is(r.code, 125);
  t.is(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, /^rootless: error: no native addon for linux-\w+.*needs cmake, g\+\+, make, not found on PATH/);
  t.notRegex(r.stderr, /\n\s+at /); // no stack trace
});

test.serial('a fresh ESM project depending on the tarball runs id -u through the Node API', async (t) => {
  const s = ready(t);
  if (!s) return;
  const u = user as TestUser;
  const proj = join(s.dir, 'project');
  const script = [
    "import { run, AddonMissingError } from 'rootless';",
    'try {',
    "  const r = await run(['id', '-u']);",
    '  console.log(JSON.stringify(r));',
    '} catch (err) {',
    '  console.log(JSON.stringify({ error: err.name, typed: err instanceof AddonMissingError, message: err.message }));',
    '}',
  ].join('\n');
  mkdirSync(proj);
  writeFileSync(join(proj, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  writeFileSync(join(proj, 'main.mjs'), `${script}\n`);
  if (u.switchTo) for (const f of ['', 'package.json', 'main.mjs']) chownSync(join(proj, f), u.switchTo.uid, u.switchTo.gid);
  let r = await run('npm', ['install', s.tarball], { ...asUser(u), env: s.env, cwd: proj });
  t.is(r.code, 0, r.stderr);
  r = await run('node', ['main.mjs'], { ...asUser(u), env: s.env, cwd: proj });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), { code: 0, stdout: '0\n', stderr: '' });

  // The same project where no prebuilt matches: a typed error, not a crash.
  rmSync(join(proj, 'node_modules', 'rootless', 'prebuilds'), { recursive: true });
  r = await run('node', ['main.mjs'], { ...asUser(u), env: s.env, cwd: proj });
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { error: string; typed: boolean; message: string };
  t.is(out.error, 'AddonMissingError');
  t.true(out.typed);
  t.regex(out.message, /needs cmake, g\+\+, make/);
});

test.serial('where no prebuilt is used, the install builds the addon from source with cmake-js', async (t) => {
  const s = ready(t);
  if (!s) return;
  t.timeout(15 * 60_000, 'npm install building the addon');
  const u = user as TestUser;
  const prefix = join(s.home, 'prefix-from-source');
  // The same user with the system's PATH (cmake, g++, make); the build
  // tools come from the npm registry into a temporary directory.
  const env = { ...s.env, PATH: `${join(prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin`, ROOTLESS_BUILD_FROM_SOURCE: '1' };
  let r = await run('npm', ['install', '-g', '--foreground-scripts', '--prefix', prefix, s.tarball], { ...asUser(u), env, cwd: s.home });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /rootless: built the addon for linux-\w+ from source/);
  const pkg = join(prefix, 'lib', 'node_modules', 'rootless');
  t.deepEqual(readdirSync(join(pkg, 'build')), ['Release']);
  t.deepEqual(readdirSync(join(pkg, 'build', 'Release')), ['rootless.node']);
  t.false(existsSync(join(pkg, 'node_modules', 'cmake-js')), 'the build tools are not kept');
  // build/Release comes first: without prebuilds/ it is what runs.
  rmSync(join(pkg, 'prebuilds'), { recursive: true });
  r = await run('rootless', ['run', '--', 'id', '-u'], { ...asUser(u), env, cwd: s.home });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '0\n');
});
