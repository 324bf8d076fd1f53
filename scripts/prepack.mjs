// `npm pack` / `npm publish` run this (prepack): the package's JavaScript
// and the prebuilt addons, from a clean dist/src.
//   - dist/src is compiled again without source maps: the package does not
//     ship the TypeScript sources a map would point to;
//   - the bundles (scripts/bundle.mjs) are made from it;
//   - scripts/prebuild.mjs builds prebuilds/linux-{x64,arm64}.
// It rewrites dist/src and prebuilds/ of this tree: do not pack while tests
// run from it (test/e2e/install.test.ts packs a copy of the tree instead).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`prepack: ${cmd} ${args.join(' ')} failed\n`);
    process.exit(1);
  }
}

rmSync('dist/src', { recursive: true, force: true });
run('npx', ['tsc', '-p', 'tsconfig.pack.json']);
run(process.execPath, ['scripts/bundle.mjs']);
run(process.execPath, ['scripts/prebuild.mjs']);
