// Interactive use on a terminal: script(1) gives the launcher a real pty.
// The target must own the terminal's foreground process group, so job
// control works and Ctrl-C reaches the target rather than the launcher.
import { BIN, U, collect, e2e, run, start, waitFor } from '../helpers/e2e.js';

function underScript(command: string, input?: string): ReturnType<typeof start> {
  // script -e: exit with the command's status; -q: no banner; log to /dev/null.
  return start(U, ['-qec', command, '/dev/null'], { bin: 'script', ...(input === undefined ? {} : { input }) });
}

e2e('on a terminal the target leads its own process group, which is the foreground one', async (t) => {
  const script = `${BIN} run -- sh -c 'cut -d" " -f1,5,8 /proc/$$/stat; cut -d" " -f5 /proc/$PPID/stat'`;
  const r = await collect(underScript(script));
  t.is(r.code, 0, r.stdout);
  const [target, childPgrp] = r.stdout.replace(/\r/g, '').trim().split('\n');
  const [pid, pgrp, tpgid] = target!.split(' ');
  t.is(pgrp, pid, 'the target is a process group leader');
  t.is(tpgid, pgrp, 'its group owns the terminal');
  t.not(childPgrp, pgrp, 'the launcher is not in the foreground group');
});

e2e('Ctrl-C on the terminal reaches the target (and its exit code comes back)', async (t) => {
  const child = start(U, ['-qec', `${BIN} run -- sh -c 'trap "echo got-INT; exit 5" INT; echo ready; while :; do sleep 0.05; done'`, '/dev/null'], {
    bin: 'script',
    keepStdin: true,
  });
  // Keep stdin open until we type ^C.
  const r = collect(child);
  // The trap is set before "ready" is printed, and the target owns the terminal before it runs.
  await waitFor(child.stdout!, /ready/);
  child.stdin!.write('\x03');
  const out = await r;
  t.is(out.code, 5, out.stdout);
  t.regex(out.stdout, /got-INT/);
});

e2e('an interactive bash has job control', async (t) => {
  const r = await run(U, ['-qec', `${BIN} run -- bash --norc -i`, '/dev/null'], {
    bin: 'script',
    input: 'sleep 30 &\njobs\nkill %1\nwait\nexit 0\n',
  });
  const out = r.stdout.replace(/\r/g, '');
  t.is(r.code, 0, out);
  t.regex(out, /\[1\]\+\s+Running\s+sleep 30 &/);
  t.notRegex(out, /no job control/);
});
