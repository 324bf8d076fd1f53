// Builds the prebuilt addons the npm package carries, into
// prebuilds/<platform>-<arch>/node.napi.glibc.node (node-gyp-build's naming:
// N-API, so one file serves every Node >= 20; glibc, so musl systems build
// from source instead). linux-x64 natively; linux-arm64 with Debian's
// g++-aarch64-linux-gnu when it is installed (scripts/setup-test-env.sh
// installs it). Each build has its own cmake-js output directory under
// build/, so build/Release (a checkout's own build) is never touched.
// Run by `npm pack` (scripts/prepack.mjs).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { arch } from 'node:os';

const targets = [
  { arch: 'x64', cxx: arch() === 'x64' ? undefined : 'x86_64-linux-gnu-g++', processor: 'x86_64' },
  { arch: 'arm64', cxx: arch() === 'arm64' ? undefined : 'aarch64-linux-gnu-g++', processor: 'aarch64' },
];

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

rmSync('prebuilds', { recursive: true, force: true });
let built = 0;
for (const t of targets) {
  if (t.cxx !== undefined && !have(t.cxx)) {
    process.stderr.write(`prebuild: skipping linux-${t.arch}: ${t.cxx} not installed\n`);
    continue;
  }
  const out = `build/prebuild-linux-${t.arch}`;
  const cross = t.cxx === undefined ? [] : ['--cxx', t.cxx, '--CDCMAKE_SYSTEM_NAME=Linux', `--CDCMAKE_SYSTEM_PROCESSOR=${t.processor}`];
  // configure, then build: `compile` would keep a cache configured without
  // ROOTLESS_PREBUILD; configuring again is cheap and ninja stays incremental.
  const args = ['--out', out, '--log-level', 'warn', '--CDROOTLESS_PREBUILD=ON', ...cross];
  let r = spawnSync('npx', ['cmake-js', 'configure', ...args], { stdio: 'inherit' });
  if (r.status === 0) r = spawnSync('npx', ['cmake-js', 'build', ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`prebuild: building linux-${t.arch} failed\n`);
    process.exit(1);
  }
  mkdirSync(`prebuilds/linux-${t.arch}`, { recursive: true });
  copyFileSync(`${out}/Release/rootless.node`, `prebuilds/linux-${t.arch}/node.napi.glibc.node`);
  built++;
}
if (built === 0) process.exit(1);
