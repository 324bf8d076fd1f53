import test from 'ava';
import type { ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ExitCode, UsageError } from '../../src/sys/errors.js';
import { defaultRunOptions } from '../../src/cli/options.js';
import type { RunOptions } from '../../src/cli/options.js';
import {
  CliExit,
  RUN_FLAGS,
  RUN_FLAG_GROUPS,
  UNSUPPORTED_RUN_FLAGS,
  invokedAsRootlesskit,
  packageVersion,
  parseRunFlags,
  versionText,
} from '../../src/cli/flags.js';
import type { RunFlagsResult } from '../../src/cli/flags.js';
import * as program from '../../src/cli/program.js';
import type { CliOutput } from '../../src/cli/program.js';
import { parseRootlesskitArgv, parseRunArgv, runFlagSyntax, runHelpText } from '../helpers/cli.js';

// ---- helpers ----------------------------------------------------------------

function capture(): CliOutput & { out: string; err: string } {
  const c = {
    out: '',
    err: '',
    writeOut: (s: string) => void (c.out += s),
    writeErr: (s: string) => void (c.err += s),
  };
  return c;
}

function options(t: ExecutionContext, r: RunFlagsResult): RunOptions {
  t.false('help' in r, 'not help');
  t.false('version' in r, 'not version');
  return r as RunOptions;
}

/** Expect a UsageError (exit 2) with exactly this message. */
function fails(t: ExecutionContext, argv: string[], mode: 'run' | 'rootlesskit', message: string): void {
  const err = t.throws(() => parseRunFlags(argv, mode), { instanceOf: UsageError }) as UsageError;
  t.is(err.message, message);
  t.is(err.exitCode, ExitCode.Usage);
}

// ---- parseRunFlags ------------------------------------------------------------

test('parseRunFlags: defaults are defaultRunOptions', (t) => {
  t.deepEqual(parseRunFlags(['sh'], 'run'), { ...defaultRunOptions(['sh']), publishSpecs: [] });
  t.deepEqual(parseRunFlags(['--', 'sh', '-c', 'x'], 'rootlesskit'), { ...defaultRunOptions(['sh', '-c', 'x']), publishSpecs: [] });
});

test('parseRunFlags: a typical run', (t) => {
  const argv = ['--net=slirp4netns', '--pidns', '-p', '127.0.0.1:8080:80/tcp', '--port-driver=builtin', '--', 'true'];
  const frozen = Object.freeze([...argv]);
  const o = options(t, parseRunFlags(frozen, 'run'));
  t.deepEqual(o, {
    ...defaultRunOptions(['true']),
    net: 'slirp4netns',
    pidns: true,
    publish: ['127.0.0.1:8080:80/tcp'],
    // parsed once, here; the LaunchPlan takes these (src/cli/plan.ts)
    publishSpecs: [{ value: '127.0.0.1:8080:80/tcp', spec: { proto: 'tcp', parentIP: '127.0.0.1', parentPort: 8080, childPort: 80 } }],
    portDriver: 'builtin',
  });
});

test('parseRunFlags: Go syntax, -p8080:80, last one wins, repeatable lists', (t) => {
  const o = options(
    t,
    parseRunFlags(
      [
        '-net',
        'pasta',
        '--port-driver',
        'implicit',
        '-p8080:80/tcp',
        '--publish=53:53/udp',
        '-copy-up=/etc/',
        '--copy-up',
        '/run',
        '--pidns=false',
        '-pidns',
        '--ipv6=T',
        '--mtu=1500',
        '--mtu',
        '0',
        '--debug',
        'sh',
        '--net=host',
      ],
      'rootlesskit',
    ),
  );
  t.is(o.net, 'pasta');
  t.is(o.portDriver, 'implicit');
  t.deepEqual(o.publish, ['8080:80/tcp', '53:53/udp']);
  t.deepEqual(o.copyUp, ['/etc', '/run']);
  t.true(o.pidns);
  t.true(o.ipv6);
  t.is(o.mtu, 65520);
  t.is(o.logLevel, 'debug');
  t.deepEqual(o.command, ['sh', '--net=host']);
});

test('parseRunFlags: -h/--help anywhere in the flags returns { help: true }', (t) => {
  for (const mode of ['run', 'rootlesskit'] as const) {
    t.deepEqual(parseRunFlags(['--help'], mode), { help: true });
    t.deepEqual(parseRunFlags(['-h'], mode), { help: true });
    t.deepEqual(parseRunFlags(['--pidns', '-h', 'ls'], mode), { help: true });
    t.deepEqual(parseRunFlags(['-help=true', '--net=pasta', '--', 'ls'], mode), { help: true });
  }
  t.deepEqual(options(t, parseRunFlags(['--help=false', 'x'], 'run')).command, ['x']);
  t.deepEqual(options(t, parseRunFlags(['ls', '--help'], 'run')).command, ['ls', '--help']);
  t.deepEqual(options(t, parseRunFlags(['--', '-h'], 'run')).command, ['-h']);
});

test('parseRunFlags: --version and -v, as rootless run and as rootlesskit', (t) => {
  for (const mode of ['run', 'rootlesskit'] as const) {
    t.deepEqual(parseRunFlags(['--version'], mode), { version: true });
    t.deepEqual(parseRunFlags(['-v', 'x'], mode), { version: true });
    t.deepEqual(parseRunFlags(['--help', '--version'], mode), { version: true }, 'version before help, as with commander');
    t.deepEqual(options(t, parseRunFlags(['--version=false', 'x'], mode)).command, ['x']);
    t.deepEqual(options(t, parseRunFlags(['--', '--version'], mode)).command, ['--version'], 'after --, it is the command');
  }
});

test('parseRunFlags: exact one-line errors with the program prefix', (t) => {
  fails(t, [], 'run', 'rootless run: missing command (usage: rootless run [flags] -- CMD [ARGS...])');
  fails(t, ['--pidns', '--'], 'rootlesskit', 'rootlesskit: missing command (usage: rootlesskit [flags] CMD [ARGS...])');
  fails(t, ['--', ''], 'run', 'rootless run: missing command');
  fails(t, ['--foo=bar', 'x'], 'run', 'rootless run: unknown flag --foo');
  fails(t, ['-z', 'x'], 'rootlesskit', 'rootlesskit: unknown flag -z');
  fails(t, ['-weird'], 'run', 'rootless run: unknown flag -weird');
  fails(t, ['--net'], 'run', 'rootless run: --net: missing value');
  fails(t, ['-p'], 'run', 'rootless run: --publish: missing value');
  fails(t, ['--pidns=maybe', 'x'], 'run', 'rootless run: --pidns: invalid boolean value "maybe" (use true or false)');
  fails(t, ['--help=maybe'], 'run', 'rootless run: --help: invalid boolean value "maybe" (use true or false)');
  fails(t, ['--net=vpnkitt', 'x'], 'run', 'rootless run: --net: invalid value "vpnkitt" (choose host, none, slirp4netns, pasta)');
  fails(t, ['--mtu=70000', 'x'], 'rootlesskit', 'rootlesskit: --mtu: 70000 is out of range (68-65521)');
  fails(t, ['--pasta-binary=', 'x'], 'run', 'rootless run: --pasta-binary: the value is empty');
  fails(
    t,
    ['--vpnkit-binary=/usr/bin/vpnkit', 'x'],
    'run',
    'rootless run: --vpnkit-binary is not supported by rootless (VPNKit is not supported; use --net=slirp4netns or --net=pasta)',
  );
  fails(t, ['--reaper=true', 'x'], 'run', 'rootless run: --reaper=true requires --pidns');
});

test('parseRunFlags: syntax errors come first, then values, then help', (t) => {
  fails(t, ['--net=bogus', '--foo', 'x'], 'run', 'rootless run: unknown flag --foo');
  fails(t, ['--help', '--foo'], 'run', 'rootless run: unknown flag --foo');
  fails(t, ['--mtu=x', '--net=bogus', 'x'], 'run', 'rootless run: --mtu: "x" is not an integer');
  fails(t, ['--net=bogus', '--help'], 'run', 'rootless run: --net: invalid value "bogus" (choose host, none, slirp4netns, pasta)');
  t.deepEqual(parseRunFlags(['--help', '--reaper=true'], 'run'), { help: true }, 'cross-flag rules only apply to a run');
});

test('parseRunFlags agrees with the commander program (`rootless run ...`)', (t) => {
  const cases = [
    ['--net=slirp4netns', '--cidr=10.0.2.9/24', '--ifname', 'eth0', '--disable-host-loopback', 'x'],
    ['--pidns', '--cgroupns', '--evacuate-cgroup2=evac', '--reaper=true', '--utsns', '--ipcns', 'x'],
    ['--state-dir=/tmp//s/', '--subid-source=none', '--log-level=warn', '--debug', 'x'],
    // --name: not with --state-dir (issue 3: a named session's state dir is fixed)
    ['--copy-up=/etc', '--name=n1', '--propagation=rslave', '--slirp4netns-sandbox=true', '--slirp4netns-seccomp=false', 'x'],
  ];
  for (const argv of cases) {
    t.deepEqual(program.parseArgv(['run', ...argv], capture()), { kind: 'run', options: parseRunFlags(argv, 'run') });
  }
});

// ---- the table ----------------------------------------------------------------

test('the flag table: unique names, well-formed entries, defaults from defaultRunOptions', (t) => {
  const names = new Set<string>();
  const defaults = defaultRunOptions([]) as unknown as Record<string, unknown>;
  for (const f of RUN_FLAGS) {
    for (const n of [f.long, ...(f.short === undefined ? [] : [f.short])]) {
      t.false(names.has(n), `${n} defined once`);
      names.add(n);
    }
    t.regex(f.long, /^[a-z][a-z0-9-]+$/);
    if (f.short !== undefined) t.regex(f.short, /^[a-z]$/);
    t.false(f.long in UNSUPPORTED_RUN_FLAGS);
    t.true((RUN_FLAG_GROUPS as readonly string[]).includes(f.group), `${f.long}: group ${f.group}`);
    t.true(f.description.length > 0);
    if (f.kind === 'bool') {
      t.is(f.arg, undefined, `--${f.long}: a bool takes no value`);
      t.is(f.default, undefined, `--${f.long}: help shows no default for a bool`);
    } else {
      t.truthy(f.arg, `--${f.long}: value name`);
    }
    if (f.default !== undefined) t.deepEqual(f.default, defaults[f.key], `--${f.long}: default`);
    if (f.defaultHelp !== undefined) t.not(f.default, undefined);
  }
  for (const n of ['h', 'help', 'v', 'version']) t.false(names.has(n), `${n} is reserved`);
  // Every option (but the command) is set by some flag; --log-level and --debug both set logLevel.
  const keys = new Set<string>(RUN_FLAGS.map((f) => f.key));
  for (const key of Object.keys(defaults)) if (key !== 'command') t.true(keys.has(key), `a flag sets ${key}`);
  t.true(keys.has('debug'));
});

test('run help from commander lists every flag of the table, in its group, and nothing else', (t) => {
  for (const mode of ['run', 'rootlesskit'] as const) {
    const help = runHelpText(mode);
    // Group sections, in table order.
    const sections = new Map<string, string>();
    let last = -1;
    for (const g of [...RUN_FLAG_GROUPS, 'Misc']) {
      const at = help.indexOf(`\n${g}:\n`);
      t.true(at > last, `${mode}: group ${g} present and in order`);
      last = at;
      const end = help.indexOf('\n\n', at + 1);
      sections.set(g, help.slice(at, end < 0 ? undefined : end));
    }
    for (const f of RUN_FLAGS) {
      const line = `  ${runFlagSyntax(f)} `;
      const section = sections.get(f.group) as string;
      if (f.hidden === true) {
        t.false(help.includes(line), `${mode}: --${f.long} hidden`);
        continue;
      }
      t.true(section.includes(line), `${mode}: --${f.long} listed under ${f.group}`);
      const firstWords = f.description.split(' ').slice(0, 3).join(' ');
      t.true(section.includes(firstWords), `${mode}: --${f.long} description`);
    }
    // Every option line in the help is a table flag, or -h/-v.
    const listed = help.split('\n').filter((l) => /^ {2}-/.test(l));
    const expected = RUN_FLAGS.filter((f) => f.hidden !== true).length + 2;
    t.is(listed.length, expected, `${mode}: option lines`);
    t.true(help.includes('-v, --version'));
  }
});

test('help text is what --help prints, through every entry point', (t) => {
  const text = runHelpText('run');
  t.true(text.startsWith('Usage: rootless run [flags] -- CMD [ARGS...]\n'));
  const a = capture();
  t.throws(() => parseRunArgv(['--help'], a), { instanceOf: CliExit });
  t.is(a.out, text);
  const b = capture();
  t.throws(() => program.parseArgv(['run', '-h'], b), { instanceOf: CliExit });
  t.is(b.out, text);
  const c = capture();
  program.writeRunHelp('run', c);
  t.is(c.out, text);
  const d = capture();
  t.throws(() => parseRootlesskitArgv(['-h'], d), { instanceOf: CliExit });
  t.is(d.out, runHelpText('rootlesskit'));
  t.true(d.out.startsWith('Usage: rootlesskit [flags] CMD [ARGS...]\n'));
});

test('version text: rootlesskit -v prints it and exits 0', (t) => {
  t.regex(versionText('rootlesskit'), /^rootlesskit version \d+\.\d+\.\d+/);
  t.is(versionText('x'), `x version ${packageVersion()}\n`);
  t.true(invokedAsRootlesskit('/usr/bin/rootlesskit'));
  const c = capture();
  const e = t.throws(() => parseRootlesskitArgv(['-v'], c), { instanceOf: CliExit }) as CliExit;
  t.is(e.exitCode, 0);
  t.is(c.out, versionText('rootlesskit'));
});

// ---- the hot path stays free of commander ----------------------------------------

/** Module specifiers in compiled ESM: static imports/re-exports, side-effect and dynamic imports. */
function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1] as string);
  return out;
}

test('dist/src/cli/flags.js never reaches commander or child_process', (t) => {
  const entry = fileURLToPath(new URL('../../src/cli/flags.js', import.meta.url));
  const seen = new Set<string>();
  const external = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('./') || spec.startsWith('../')) todo.push(fileURLToPath(new URL(spec, `file://${file}`)));
      else external.add(spec);
    }
  }
  const rel = [...seen].map((f) => f.slice(f.indexOf('/dist/') + 1)).sort();
  t.true(rel.includes('dist/src/cli/options.js'), `walked the graph: ${rel.join(', ')}`);
  t.true(rel.includes('dist/src/sys/errors.js'));
  t.false(rel.includes('dist/src/cli/program.js'));
  for (const spec of external) {
    t.false(spec === 'commander' || spec.startsWith('commander/'), `${spec} in ${rel.join(', ')}`);
    t.false(/(^|:)child_process$/.test(spec), `${spec} in ${rel.join(', ')}`);
    t.true(spec.startsWith('node:'), `only node builtins: ${spec}`);
  }
});
