// npm's `prepare`: the build of a checkout (`npm ci`, `npm install`).
// `npm pack` and `npm publish` run it too, after prepack
// (scripts/prepack.mjs), which made the package's own build: nothing to do
// then (the development build would put source maps back).
import { spawnSync } from 'node:child_process';

const packing = ['pack', 'publish'].includes(process.env.npm_command ?? '');
if (!packing) {
  const r = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
