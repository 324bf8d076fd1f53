// What the session client (src/session/client.ts) and the agent inside the
// namespaces (src/session/agent.ts) say over the session socket: one JSON
// line each way per connection. Bytes travel as base64 so that whatever
// the command reads or writes reaches the caller byte for byte.

export interface AgentRequest {
  argv: string[];
  cwd?: string;
  /** Added to (and overriding) the session's environment. */
  env?: Record<string, string>;
  /** The command's stdin, base64; closed after it (empty when absent). */
  input?: string;
}

export type AgentResponse =
  | { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { error: { message: string; code: string } };
