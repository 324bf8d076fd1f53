// Bundles the two entry points (the CLI/parent and the child) into one
// CommonJS file each. Both start on the critical path of every
// `rootless run`: loading ~30 ES modules one by one, and node's ES module
// loader itself, cost more than the code they run. The bundles sit next to
// the modules they replace, so relative paths (the addon, package.json)
// resolve the same way.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The sources are ES modules; give them the one ESM-only thing they use.
  banner: { js: "const __rootlessImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: {
    'import.meta.url': '__rootlessImportMetaUrl',
    ROOTLESS_CHILD_ENTRY: JSON.stringify('child.cjs'),
  },
  // pino is loaded lazily at run time (src/cli/log.ts); keep it out.
  external: ['pino'],
  // import() of a node builtin (loaded lazily, src/parent/child.ts) as a
  // require: left as import(), it loads node's ES module loader (~20
  // modules, time and memory) into a CommonJS bundle.
  supported: { 'dynamic-import': false },
  logLevel: 'warning',
  legalComments: 'none',
};

await Promise.all([
  build({ ...common, entryPoints: ['dist/src/cli/main.js'], outfile: 'dist/src/cli/rootless.cjs' }),
  build({ ...common, entryPoints: ['dist/src/child/main.js'], outfile: 'dist/src/child/child.cjs' }),
]);
