// `rootless help [CMD]`, which main.ts turns into `rootless [CMD] --help`.
import { UsageError } from '../sys/errors.js';

/**
 * `rootless help [CMD]` is `rootless [CMD] --help`, so both print the same
 * text (each command writes its own help). Anything after CMD is ignored.
 */
export async function helpAsFlag(argv: string[]): Promise<string[]> {
  if (argv[0] !== 'help') return argv;
  const name = argv[1];
  if (name === undefined || name === '-h' || name === '--help') return ['--help'];
  const { commandNames } = await import('./program.js');
  const names = commandNames();
  if (!names.includes(name)) {
    const { didYouMean } = await import('./suggest.js');
    throw new UsageError(`rootless help: unknown command ${JSON.stringify(name)}${didYouMean(name, names) || ' (see rootless --help)'}`, { subject: name });
  }
  return [name, '--help'];
}
