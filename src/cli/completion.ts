// `rootless completion bash|zsh`: a completion script for the shell,
// generated from the same tables the parsers use (the run flags and their
// values, the subcommands, their flags). The scripts are static: a TAB
// starts no node process; session names (exec, info, ports) are the
// directories under the sessions base, as `rootless run --name` makes them.
// Written by hand rather than with a completion library: those call the
// program back on every TAB (a node start, ~100 ms), for what a table says.
import { UsageError } from '../sys/errors.js';
import { writeStdout } from '../sys/stderr.js';
import { RUN_FLAGS, type RunFlag } from './flags.js';

export const COMPLETION_HELP = `Usage: rootless completion bash|zsh

Print a completion script for the shell: subcommands, the flags of each,
the values of choice flags (--net=..., --port-driver=...), directories for
--copy-up and --state-dir, session names for exec, info and ports.

Examples:
  rootless completion bash > ~/.local/share/bash-completion/completions/rootless
  rootless completion bash | sudo tee /usr/share/bash-completion/completions/rootless
  rootless completion zsh > "\${fpath[1]}/_rootless"      # then: compinit
  source <(rootless completion bash)                      # this shell only
`;

/** Flags of the other subcommands (their parsers are small and hand-written). */
const SUBCOMMAND_FLAGS: Readonly<Record<string, readonly string[]>> = {
  exec: ['--state-dir', '--help'],
  ps: ['--json', '--help'],
  info: ['--json', '--socket', '--state-dir', '--help'],
  ports: ['--json', '--socket', '--state-dir', '--help'],
  ctl: ['--socket', '--debug', '--help', '--version'],
  doctor: ['--json', '--help'],
  completion: ['--help'],
};
const PORTS_WORDS = ['ls', 'add', 'rm'];
const CTL_WORDS = ['list-ports', 'add-ports', 'remove-ports', 'info'];
const DIR_FLAGS = ['copy-up', 'state-dir'];
const FILE_FLAGS = ['slirp4netns-binary', 'pasta-binary'];

function runFlagWords(): string[] {
  const words: string[] = [];
  for (const f of RUN_FLAGS) {
    if (f.hidden === true) continue;
    words.push(`--${f.long}`);
    if (f.short !== undefined) words.push(`-${f.short}`);
  }
  return [...words, '--help', '--version'];
}

function valueFlags(): RunFlag[] {
  return RUN_FLAGS.filter((f) => f.kind !== 'bool' && f.hidden !== true);
}

/** Subcommand names (run first), as the program has them. */
function commands(): string[] {
  return ['run', ...Object.keys(SUBCOMMAND_FLAGS), 'help'];
}

// The sessions base, as src/parent/sessions.ts computes it.
const SESSIONS_SH = '${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/rootless}';
const SESSIONS_FALLBACK_SH = '/tmp/rootless-$(id -u)';

export function bashScript(): string {
  const cases: string[] = [];
  for (const f of valueFlags()) {
    const names = [`--${f.long}`, ...(f.short === undefined ? [] : [`-${f.short}`])].join('|');
    let body: string;
    if (f.values !== undefined) body = `COMPREPLY=($(compgen -W "${f.values.join(' ')}" -- "$cur"))`;
    else if (DIR_FLAGS.includes(f.long)) body = 'COMPREPLY=($(compgen -d -- "$cur"))';
    else if (FILE_FLAGS.includes(f.long)) body = 'COMPREPLY=($(compgen -f -- "$cur"))';
    else body = 'COMPREPLY=()';
    cases.push(`\t\t${names}) ${body}; return ;;`);
  }
  const sub = Object.entries(SUBCOMMAND_FLAGS)
    .map(([c, flags]) => `\t\t${c}) flags="${flags.join(' ')}" ;;`)
    .join('\n');
  return `# bash completion for rootless (made by: rootless completion bash)
_rootless_sessions() {
	local base=${SESSIONS_SH}
	[ -n "$base" ] || base=${SESSIONS_FALLBACK_SH}
	[ -d "$base" ] && (cd "$base" && ls -1)
}

_rootless() {
	local cur prev sub i w flags
	cur=\${COMP_WORDS[COMP_CWORD]}
	prev=\${COMP_WORDS[COMP_CWORD-1]}
	# --flag=value: bash splits at '=' (COMP_WORDBREAKS)
	if [ "$cur" = "=" ]; then cur=""; prev=\${COMP_WORDS[COMP_CWORD-1]}
	elif [ "$prev" = "=" ]; then prev=\${COMP_WORDS[COMP_CWORD-2]}; fi
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "${commands().join(' ')} --help --version" -- "$cur"))
		return
	fi
	sub=\${COMP_WORDS[1]}
	case "$sub" in
	run)
		# After -- or the first word that is not a flag: the command and its arguments.
		for ((i = 2; i < COMP_CWORD; i++)); do
			w=\${COMP_WORDS[i]}
			if [ "$w" = "--" ]; then COMPREPLY=($(compgen -c -f -- "$cur")); return; fi
		done
		case "$prev" in
${cases.join('\n')}
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "${runFlagWords().join(' ')}" -- "$cur"))
		else
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		return ;;
	help)
		[ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "${commands().join(' ')}" -- "$cur"))
		return ;;
	completion)
		[ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "bash zsh --help" -- "$cur"))
		return ;;
	esac
	case "$prev" in
	--state-dir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	case "$sub" in
${sub}
	*) return ;;
	esac
	if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$flags" -- "$cur")); return; fi
	case "$sub" in
	exec | info) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "$(_rootless_sessions)" -- "$cur")) ;;
	ports) COMPREPLY=($(compgen -W "${PORTS_WORDS.join(' ')} $( [ "$COMP_CWORD" -eq 2 ] && _rootless_sessions)" -- "$cur")) ;;
	ctl) COMPREPLY=($(compgen -W "${CTL_WORDS.join(' ')}" -- "$cur")) ;;
	esac
}
complete -F _rootless rootless
`;
}

/** zsh's _arguments spec for a run flag, e.g. '--net=[network driver]:driver:(host none)'. */
function zshRunSpec(f: RunFlag): string[] {
  const desc = f.description.replace(/[[\]'\\:]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 70);
  const names = [`--${f.long}`, ...(f.short === undefined ? [] : [`-${f.short}`])];
  if (f.kind === 'bool') return names.map((n) => `'${n}[${desc}]'`);
  let action = ' ';
  if (f.values !== undefined) action = `(${f.values.join(' ')})`;
  else if (DIR_FLAGS.includes(f.long)) action = '_directories';
  else if (FILE_FLAGS.includes(f.long)) action = '_files';
  const repeat = f.kind === 'list' ? '*' : '';
  return names.map((n) => `'${repeat}${n}${n.startsWith('--') ? '=' : '+'}[${desc}]:${f.arg ?? 'value'}:${action}'`);
}

export function zshScript(): string {
  const runSpecs = RUN_FLAGS.filter((f) => f.hidden !== true).flatMap(zshRunSpec);
  const described = commands()
    .map((c) => `'${c}'`)
    .join(' ');
  const F = (c: string): string => SUBCOMMAND_FLAGS[c]!.join(' ');
  return `#compdef rootless
# zsh completion for rootless (made by: rootless completion zsh)
_rootless_sessions() {
	local base=${SESSIONS_SH}
	[[ -n $base ]] || base=${SESSIONS_FALLBACK_SH}
	local -a s
	[[ -d $base ]] && s=(\${base}/*(N/:t))
	compadd -a s
}

_rootless() {
	local curcontext=$curcontext state line
	if (( CURRENT == 2 )); then
		compadd -- ${described} --help --version
		return
	fi
	local sub=\${words[2]}
	words=(\${words[2,-1]}); (( CURRENT-- ))
	case $sub in
	run)
		_arguments -S \\
			${runSpecs.join(' \\\n\t\t\t')} \\
			'(- *)--help[show help]' '(- *)--version[print the version]' \\
			'(-)*:: :_normal'
		;;
	help) (( CURRENT == 2 )) && compadd -- ${described} ;;
	completion) (( CURRENT == 2 )) && compadd -- bash zsh ;;
	exec)
		if [[ \${words[CURRENT]} == -* ]]; then compadd -- ${F('exec')}
		elif (( CURRENT == 2 )); then _rootless_sessions
		else _normal
		fi ;;
	info)
		if [[ \${words[CURRENT]} == -* ]]; then compadd -- ${F('info')}
		else _rootless_sessions
		fi ;;
	ports)
		if [[ \${words[CURRENT]} == -* ]]; then compadd -- ${F('ports')}
		else compadd -- ${PORTS_WORDS.join(' ')}; (( CURRENT == 2 )) && _rootless_sessions
		fi ;;
	ctl) compadd -- ${CTL_WORDS.join(' ')} ${F('ctl')} ;;
	ps | doctor) compadd -- --json --help ;;
	esac
}

_rootless "$@"
`;
}

export function completionMain(argv: readonly string[]): number {
  const shell = argv[0];
  if (shell === '-h' || shell === '--help') {
    writeStdout(COMPLETION_HELP);
    return 0;
  }
  if (argv.length > 1) throw new UsageError(`rootless completion: unexpected argument ${JSON.stringify(argv[1])}`, { subject: argv[1]! });
  if (shell === 'bash') writeStdout(bashScript());
  else if (shell === 'zsh') writeStdout(zshScript());
  else if (shell === undefined) throw new UsageError('rootless completion: missing shell: bash or zsh (see rootless completion --help)');
  else throw new UsageError(`rootless completion: unknown shell ${JSON.stringify(shell)} (bash or zsh)`, { subject: shell });
  return 0;
}
