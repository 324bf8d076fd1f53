#!/usr/bin/env node
// npm's install script of the rootless package. The package carries
// prebuilt addons (prebuilds/linux-x64, prebuilds/linux-arm64, glibc):
// when one loads here, there is nothing to do. Otherwise the addon is built
// from the shipped sources (addon/, CMakeLists.txt) with cmake-js, fetched
// for the build only from the npm registry into a temporary directory (a
// user install does not keep build tools). Without cmake, a C++ compiler or
// make, this prints what is missing and still succeeds: `rootless` then
// says the same in one line (exit 125) until `npm rebuild rootless`.
//
// In a checkout (tsconfig.json present), `npm ci` builds through the
// `prepare` script instead: nothing to do here.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const say = (line) => process.stderr.write(`rootless: ${line}\n`);

function loads() {
  // A child process: a prebuilt that fails to load (e.g. an older glibc)
  // must not take this script with it.
  const code = `require(require.resolve('node-gyp-build', { paths: [${JSON.stringify(root)}] }))(${JSON.stringify(root)})`;
  const r = spawnSync(process.execPath, ['-e', code], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  return { ok: r.status === 0, error: (r.stderr || '').split('\n').find((l) => /Error/.test(l)) || '' };
}

function onPath(names) {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter((d) => d.startsWith('/'));
  return names.some((n) =>
    dirs.some((d) => {
      try {
        fs.accessSync(path.join(d, n), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

function main() {
  if (fs.existsSync(path.join(root, 'tsconfig.json'))) return 0;
  const target = `${process.platform}-${process.arch}`;
  const fromSource = process.env.ROOTLESS_BUILD_FROM_SOURCE === '1';
  if (!fromSource) {
    const r = loads();
    if (r.ok) return 0;
    say(`no usable prebuilt addon for ${target}${r.error ? ` (${r.error})` : ''}: building it from source`);
  }

  const missing = [];
  if (!onPath(['cmake'])) missing.push('cmake');
  if (!onPath(['g++', 'c++', 'clang++'])) missing.push('g++');
  if (!onPath(['make', 'ninja'])) missing.push('make');
  if (missing.length > 0) {
    say(`cannot build the addon: ${missing.join(', ')} not found on PATH; install them (Debian: apt-get install cmake g++ make), then run \`npm rebuild rootless\``);
    return 0; // the install stays; `rootless` says the same until then
  }

  // The build tools, at the versions this release was tested with.
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const dev = pkg.devDependencies || {};
  const tools = ['cmake-js', 'node-addon-api', 'node-api-headers'].map((n) => `${n}@${dev[n] || 'latest'}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rootless-build-'));
  try {
    // The npm that runs this script; its config (registry, cafile) comes
    // along in npm_config_*, but not "global", which would install there.
    const env = { ...process.env };
    for (const k of Object.keys(env)) {
      if (/^npm_config_(global|location|prefix)$/i.test(k)) delete env[k];
    }
    const npm = process.env.npm_execpath
      ? [process.execPath, process.env.npm_execpath]
      : ['npm'];
    const inst = spawnSync(
      npm[0],
      [...npm.slice(1), 'install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', '--prefix', tmp, ...tools],
      { stdio: ['ignore', 'inherit', 'inherit'], env },
    );
    if (inst.status !== 0) {
      say(`cannot build the addon: installing ${tools.join(' ')} from the npm registry failed`);
      return 1;
    }
    // CMakeLists.txt finds node-addon-api with require(): NODE_PATH lets it.
    const modules = path.join(tmp, 'node_modules');
    const build = spawnSync(
      process.execPath,
      [path.join(modules, 'cmake-js', 'bin', 'cmake-js'), 'compile', '--directory', root, '--out', path.join(root, 'build'), '--log-level', 'warn'],
      { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...env, NODE_PATH: modules } },
    );
    if (build.status !== 0) {
      say('building the addon failed (see the compiler output above)');
      return 1;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // Keep the addon, not the build tree.
  const out = path.join(root, 'build');
  for (const e of fs.readdirSync(out)) {
    if (e !== 'Release') fs.rmSync(path.join(out, e), { recursive: true, force: true });
  }
  for (const e of fs.readdirSync(path.join(out, 'Release'))) {
    if (e !== 'rootless.node') fs.rmSync(path.join(out, 'Release', e), { recursive: true, force: true });
  }
  const r = loads();
  if (!r.ok) {
    say(`the addon was built but does not load: ${r.error}`);
    return 1;
  }
  say(`built the addon for ${target} from source`);
  return 0;
}

process.exitCode = main();
