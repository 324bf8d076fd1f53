// bench/install: what a user pays to install rootless, the way the README
// says (`npm install -g` of the packed tarball, into a fresh prefix with an
// empty npm cache, as the unprivileged test user), against the floor: npm
// installing only rootless's runtime dependencies (package.json's
// `dependencies`, same ranges) the same way. Runs alternate; times are
// medians. Also the tarball's size, its unpacked size, the installed size
// and the number of packages a user gets.
//
//   npm run build && node dist/bench/install.js [--runs N] [--tarball FILE]
//
// Without --tarball it packs the tree (npm pack, which builds the prebuilt
// addons: minutes). Run as root, it installs as the test user
// (scripts/setup-test-env.sh); the npm registry must be reachable.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchUser, fmt, median, table } from './common.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const runs = Number(opt('--runs') ?? 0) || 5;
const user = benchUser();

const work = mkdtempSync(join(tmpdir(), 'rootless-bench-install-'));
chmodSync(work, 0o755);
if (user.switchTo) chownSync(work, user.switchTo.uid, user.switchTo.gid);
let tarball = opt('--tarball');
if (tarball === undefined) {
  console.error('packing the tree (npm pack builds the prebuilt addons)...');
  const name = execFileSync('npm', ['pack', '--pack-destination', work], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  tarball = join(work, name);
}
chmodSync(tarball, 0o644);

// npm reaches its registry through the CA in root's npm config; another
// user's npm must be told (npm_config_cafile), or the registry refuses it.
const cafile = execFileSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).trim();
const deps = Object.entries((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies).map(([n, v]) => `${n}@${v}`);

function du(path: string): number {
  let total = 0;
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) return 0;
  if (!st.isDirectory()) return st.size;
  for (const e of readdirSync(path)) total += du(join(path, e));
  return total;
}

/** One `npm install -g` into a fresh prefix with an empty cache: wall ms and the prefix. */
function install(what: string[], n: number): { ms: number; prefix: string } {
  const prefix = join(work, `prefix-${n}`);
  const cache = join(work, `cache-${n}`);
  for (const d of [prefix, cache]) rmSync(d, { recursive: true, force: true });
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: user.home,
    npm_config_cache: cache,
    npm_config_update_notifier: 'false',
    ...(cafile !== '' && cafile !== 'null' && cafile !== 'undefined' ? { npm_config_cafile: cafile } : {}),
  };
  const uid = user.switchTo ? { uid: user.switchTo.uid, gid: user.switchTo.gid } : {};
  const t = performance.now();
  const r = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', ...what], { env, cwd: work, encoding: 'utf8', ...uid });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`npm install ${what.join(' ')} failed (${r.status}): ${r.stderr}`);
  rmSync(cache, { recursive: true, force: true });
  return { ms, prefix };
}

const ours: number[] = [];
const floor: number[] = [];
let installed = 0;
let packages = 0;
let built = false;
for (let i = 0; i < runs; i++) {
  const a = install([tarball], 2 * i);
  ours.push(a.ms);
  const pkg = join(a.prefix, 'lib/node_modules/rootless');
  installed = du(pkg);
  packages = 1 + readdirSync(join(pkg, 'node_modules')).reduce((n, e) => n + (e.startsWith('@') ? readdirSync(join(pkg, 'node_modules', e)).length : e.startsWith('.') ? 0 : 1), 0);
  // The prebuilt addon was used: the install script built nothing.
  built ||= existsSync(join(pkg, 'build'));
  rmSync(a.prefix, { recursive: true, force: true });
  floor.push(install(deps, 2 * i + 1).ms);
  rmSync(join(work, `prefix-${2 * i + 1}`), { recursive: true, force: true });
}

const packed = statSync(tarball).size;
const mib = (b: number): string => `${fmt(b / 1048576, 2)} MiB`;
console.log(`install, ${runs} runs alternating, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; the addon was ${built ? 'BUILT FROM SOURCE' : 'prebuilt (nothing compiled)'}\n`);
console.log(table(['what', 'median s', 'x floor'], [
  ['npm install -g rootless tarball', fmt(median(ours) / 1000, 2), fmt(median(ours) / median(floor), 2)],
  [`npm install -g ${deps.join(' ')} (the floor)`, fmt(median(floor) / 1000, 2), '1.00'],
]));
console.log(`\ntarball ${mib(packed)}; installed ${mib(installed)} in ${packages} packages (rootless and its dependencies)`);
rmSync(work, { recursive: true, force: true });
