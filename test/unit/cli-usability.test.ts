// What a user meets at the command line: suggestions for typos, `help CMD`,
// session names for info/ports, shell completion scripts.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RootlessError, UsageError } from '../../src/sys/errors.js';
import { didYouMean, editDistance, similar } from '../../src/cli/suggest.js';
import { parseRunFlags } from '../../src/cli/flags.js';
import { commandNames, parseArgv } from '../../src/cli/program.js';
import { helpAsFlag } from '../../src/cli/help.js';
import { bashScript, completionMain, zshScript } from '../../src/cli/completion.js';
import { parseArgs, sessionOrStateDir } from '../../src/cli/api-args.js';

const BIN = fileURLToPath(new URL('../../../bin/rootless', import.meta.url));

test('editDistance: optimal string alignment, as commander', (t) => {
  t.is(editDistance('pidn', 'pidns'), 1);
  t.is(editDistance('rn', 'run'), 1);
  t.is(editDistance('ab', 'ba'), 1, 'a transposition is one edit');
  t.is(editDistance('kitten', 'sitting'), 3);
  t.is(editDistance('', 'abc'), 3);
});

test('similar: the closest within two edits and 40% of the word', (t) => {
  t.deepEqual(similar('pidn', ['pidns', 'ipcns', 'utsns']), ['pidns']);
  t.deepEqual(similar('rn', ['run', 'ps', 'exec']), ['run']);
  t.deepEqual(similar('xyzzy', ['run', 'ps', 'exec']), []);
  t.deepEqual(similar('q', ['q', 'x']), [], 'no one-letter candidates');
  t.deepEqual(similar('nett', ['net', 'netx']), ['net', 'netx'], 'ties are all offered, sorted');
  t.is(didYouMean('pidn', ['pidns'], '--'), ' (did you mean --pidns?)');
  t.is(didYouMean('nett', ['net', 'netx']), ' (did you mean one of net, netx?)');
  t.is(didYouMean('zzz', ['run']), '');
});

function usageError(t: import('ava').ExecutionContext, fn: () => unknown): string {
  const e = t.throws(fn, { instanceOf: UsageError }) as UsageError;
  t.is(e.exitCode, 2);
  return e.message;
}

test('rootless run: an unknown flag gets a suggestion from the flag table', (t) => {
  t.is(usageError(t, () => parseRunFlags(['--pidn', '--', 'true'], 'run')), 'rootless run: unknown flag --pidn (did you mean --pidns?)');
  t.is(usageError(t, () => parseRunFlags(['--copyup=/etc', 'true'], 'run')), 'rootless run: unknown flag --copyup (did you mean --copy-up?)');
  t.is(usageError(t, () => parseRunFlags(['--verison'], 'rootlesskit')), 'rootlesskit: unknown flag --verison (did you mean --version?)');
  t.is(usageError(t, () => parseRunFlags(['--zzzzzz', 'true'], 'run')), 'rootless run: unknown flag --zzzzzz');
});

test('rootless: an unknown command or flag gets commander-rule suggestions', (t) => {
  t.is(usageError(t, () => parseArgv(['rn'])), 'rootless: unknown command "rn" (did you mean run?)');
  t.is(usageError(t, () => parseArgv(['exc'])), 'rootless: unknown command "exc" (did you mean exec?)');
  t.is(usageError(t, () => parseArgv(['xyzzy'])), 'rootless: unknown command "xyzzy" (see rootless --help)');
  t.is(usageError(t, () => parseArgv(['--verison'])), 'rootless: unknown flag --verison (did you mean --version?)');
});

test('the small parsers of info/ports suggest too', (t) => {
  t.is(usageError(t, () => parseArgs(['--jsn'], ['socket', 'state-dir'], ['json', 'help'], 'rootless info')), 'rootless info: unknown flag --jsn (did you mean --json?)');
});

test('rootless help CMD is rootless CMD --help', async (t) => {
  t.deepEqual(await helpAsFlag(['help', 'run']), ['run', '--help']);
  t.deepEqual(await helpAsFlag(['help', 'ports', 'extra']), ['ports', '--help']);
  t.deepEqual(await helpAsFlag(['help']), ['--help']);
  t.deepEqual(await helpAsFlag(['run', 'help']), ['run', 'help'], 'only as the first word');
  await t.throwsAsync(helpAsFlag(['help', 'rn']), { instanceOf: UsageError, message: 'rootless help: unknown command "rn" (did you mean run?)' });
  t.true(commandNames().includes('completion'));
});

test('rootless help CMD prints the same text as rootless CMD --help (the binary)', (t) => {
  for (const cmd of commandNames()) {
    const a = spawnSync(BIN, ['help', cmd], { encoding: 'utf8' });
    const b = spawnSync(BIN, [cmd, '--help'], { encoding: 'utf8' });
    t.is(a.status, 0, `${cmd}: ${a.stderr}`);
    t.is(a.stdout, b.stdout, cmd);
    t.true(a.stdout.length > 0, cmd);
  }
});

test('every help has examples', (t) => {
  for (const argv of [['--help'], ...commandNames().map((c) => [c, '--help'])]) {
    const r = spawnSync(BIN, argv, { encoding: 'utf8' });
    t.regex(r.stdout, /^Examples:|^EXAMPLES:/m, argv.join(' '));
  }
});

test('info and ports: a session name, or --state-dir/--socket, not both', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'rootless-sessions-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const saved = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = base;
  t.teardown(() => {
    if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = saved;
  });
  execFileSync('mkdir', ['-p', join(base, 'rootless', 'web')]);
  t.is(await sessionOrStateDir('rootless info', 'web', undefined, undefined), join(base, 'rootless', 'web'));
  t.is(await sessionOrStateDir('rootless info', undefined, '/some/dir', undefined), '/some/dir');
  await t.throwsAsync(sessionOrStateDir('rootless info', 'nope', undefined, undefined), {
    instanceOf: RootlessError,
    message: 'no session named "nope" (see rootless ps)',
  });
  await t.throwsAsync(sessionOrStateDir('rootless ports', 'web', '/d', undefined), { instanceOf: UsageError, message: /not several/ });
  await t.throwsAsync(sessionOrStateDir('rootless info', '../x', undefined, undefined), { instanceOf: UsageError, message: /^rootless info: session / });
});

test('rootless completion: bash and zsh scripts from the tables; bad shells refused', (t) => {
  t.throws(() => completionMain(['fish']), { instanceOf: UsageError, message: 'rootless completion: unknown shell "fish" (bash or zsh)' });
  t.throws(() => completionMain([]), { instanceOf: UsageError, message: /missing shell/ });
  const bash = bashScript();
  t.true(bash.includes('complete -F _rootless rootless'));
  t.true(bash.includes('--pidns') && bash.includes('slirp4netns pasta'));
  const zsh = zshScript();
  t.true(zsh.startsWith('#compdef rootless\n'));
  t.true(zsh.includes("'--net=[") && zsh.includes('(host none slirp4netns pasta)'));
});

/** What bash completes for these words (the last is the one being completed). */
function bashComplete(t: import('ava').ExecutionContext, dir: string, words: string[], env: NodeJS.ProcessEnv = {}): string[] {
  const script = join(dir, 'rootless.bash');
  writeFileSync(script, bashScript());
  const quoted = words.map((w) => `'${w.replace(/'/g, "'\\''")}'`).join(' ');
  const r = spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _rootless; printf '%s\\n' "\${COMPREPLY[@]}"`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  });
  t.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
}

test('the bash script completes commands, flags, choice values and session names', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootless-completion-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.deepEqual(bashComplete(t, dir, ['rootless', 'r']), ['run']);
  t.deepEqual(bashComplete(t, dir, ['rootless', 'run', '--pid']), ['--pidns']);
  t.deepEqual(bashComplete(t, dir, ['rootless', 'run', '--net', '']), ['host', 'none', 'slirp4netns', 'pasta']);
  t.deepEqual(bashComplete(t, dir, ['rootless', 'run', '--net', '=', 'sl']), ['slirp4netns'], '--net=sl');
  t.deepEqual(bashComplete(t, dir, ['rootless', 'help', 'e']), ['exec']);
  t.deepEqual(bashComplete(t, dir, ['rootless', 'completion', '']), ['bash', 'zsh', '--help']);
  execFileSync('mkdir', ['-p', join(dir, 'rootless', 'web'), join(dir, 'rootless', 'db')]);
  t.deepEqual(bashComplete(t, dir, ['rootless', 'exec', ''], { XDG_RUNTIME_DIR: dir }).sort(), ['db', 'web']);
  t.deepEqual(bashComplete(t, dir, ['rootless', 'ports', ''], { XDG_RUNTIME_DIR: dir }).sort(), ['add', 'db', 'ls', 'rm', 'web']);
});

test('the zsh script is valid zsh and registers for rootless', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rootless-zsh-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '_rootless'), zshScript());
  const r = spawnSync('zsh', ['-f', '-c', `zsh -n ${dir}/_rootless && fpath=(${dir} $fpath) && autoload -U compinit && compinit -u -d ${dir}/.zcd && print -r -- $_comps[rootless]`], {
    encoding: 'utf8',
  });
  if (r.error) {
    t.fail(`zsh is not installed (scripts/setup-test-env.sh installs it): ${r.error.message}`);
    return;
  }
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), '_rootless');
});
