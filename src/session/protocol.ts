// What the session client (src/session/client.ts) and the agent inside the
// namespaces (src/session/agent.ts) say over session.sock: JSON lines.
// Every connection opens with one line the client sends in the same
// synchronous call as its connect (src/sys/native.ts), with the
// command's stdio fds attached for a spawn; the agent reads that line
// natively, before Node reads the connection (Node's reads would drop fds).
// Bytes travel as base64 so that whatever a command reads or writes reaches
// the caller byte for byte.

/** The opening line of the persistent connection that carries run() calls. */
export interface RunChannelHello {
  op: 'runs';
}

/** One run() on the persistent connection; answered by a RunResponse with its id. */
export interface RunRequest {
  id: number;
  argv: string[];
  cwd?: string;
  /** Added to (and overriding) the session's environment. */
  env?: Record<string, string>;
  /** The command's stdin, base64; closed after it (/dev/null when absent). */
  input?: string;
}

export type RunResponse =
  | { id: number; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { id: number; error: { message: string; code: string } };

/** Where a spawned command's fd 0, 1 or 2 comes from: the next fd passed with the request, or /dev/null. */
export type StdioSource = 'fd' | 'null';

/** The opening line of a spawn() connection; the fds come with it, in stdio order. */
export interface SpawnRequest {
  op: 'spawn';
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  stdio: [StdioSource, StdioSource, StdioSource];
  /** The three fds are one terminal: the command gets a session of its own with it as the controlling terminal. */
  tty?: boolean;
}

/** Agent -> client on a spawn connection, in this order: started (or refused), then exit. */
export type SpawnEvent =
  | { started: number }
  | { refused: { message: string; code: string; exitCode: number } }
  | { exit: { code: number | null; signal: NodeJS.Signals | null } }
  | { error: { message: string; code: string } };

/** Client -> agent on a spawn connection. Closing the connection SIGKILLs a command still running. */
export interface SpawnControl {
  kill: NodeJS.Signals;
}

/** The longest opening line the agent reads (argv and env included). */
export const MAX_REQUEST_BYTES = 4 << 20;
