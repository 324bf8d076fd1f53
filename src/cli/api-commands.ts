// Entry of the REST API's client commands: `rootless info`, `rootless
// ports`, `rootless ctl`. Each is loaded only when used.
import { RootlessError, UsageError, errorMessage } from '../sys/errors.js';
import { writeStderr } from '../sys/stderr.js';

export async function apiCommand(kind: 'info' | 'ports' | 'ctl', argv: readonly string[]): Promise<number> {
  try {
    switch (kind) {
      case 'info':
        return await (await import('./info.js')).infoMain(argv);
      case 'ports':
        return await (await import('./ports.js')).portsMain(argv);
      case 'ctl':
        // rootlessctl's own error format and exit codes.
        return await (await import('./ctl.js')).ctlMain(argv);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      writeStderr(`${err.message.startsWith('rootless') ? '' : `rootless ${kind}: `}${err.message}\n`);
      return err.exitCode;
    }
    writeStderr(`rootless ${kind}: ${errorMessage(err)}\n`);
    return err instanceof RootlessError ? err.exitCode : 1;
  }
}
