// A client of the REST API (ours or RootlessKit's): HTTP/1.1 over the unix
// socket, one request per connection.
import { request } from 'node:http';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { RootlessError } from '../sys/errors.js';
import { specJSON, type PortSpec, type PortStatus } from '../port/spec.js';

export interface ApiInfo {
  apiVersion: string;
  version: string;
  stateDir: string;
  childPID: number;
  networkDriver?: { driver: string; dns?: string[]; childIP?: string };
  portDriver?: { driver: string; protos: string[]; disallowLoopbackChildIP?: boolean; sourceIPTransparent?: boolean };
}

/** The server said no: its status and its JSON message. */
export class ApiError extends RootlessError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message, { step: 'api request', exitCode: 1 });
  }
}

const TIMEOUT_MS = 30_000;
const MAX_REPLY = 16 << 20;

/** Where api.sock is: --socket, else --state-dir's, else the session we run in. */
export function resolveSocket(opts: { socket?: string; stateDir?: string }, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.socket !== undefined) return opts.socket;
  if (opts.stateDir !== undefined) return join(opts.stateDir, 'api.sock');
  const dir = env.ROOTLESSKIT_STATE_DIR;
  if (dir !== undefined && dir !== '') return join(dir, 'api.sock');
  throw new RootlessError('no session given: use --socket PATH or --state-dir DIR (inside a session, $ROOTLESSKIT_STATE_DIR is used)', {
    step: 'api socket', exitCode: 2,
  });
}

export class ApiClient {
  constructor(readonly socketPath: string) {}

  private call(method: string, path: string, body?: unknown): Promise<{ status: number; data: unknown }> {
    try {
      statSync(this.socketPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      throw new RootlessError(`${this.socketPath}: ${code === 'ENOENT' ? 'no such socket (is the session running?)' : code}`, {
        step: 'api socket', code, subject: this.socketPath, exitCode: 1,
      });
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          // The host part is ignored by the server (RootlessKit's clients send "rootlesskit").
          headers: { Host: 'rootlesskit', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}) },
          timeout: TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (d: Buffer) => {
            size += d.length;
            if (size > MAX_REPLY) req.destroy(new Error('reply too large'));
            else chunks.push(d);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let data: unknown;
            try {
              data = text === '' ? undefined : JSON.parse(text);
            } catch {
              data = text;
            }
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              const msg = typeof data === 'object' && data !== null && typeof (data as { message?: unknown }).message === 'string'
                ? (data as { message: string }).message
                : `unexpected HTTP status ${status} ${res.statusMessage ?? ''}, body=${JSON.stringify(text)}`;
              reject(new ApiError(msg, status));
              return;
            }
            resolve({ status, data });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          err instanceof RootlessError
            ? err
            : new RootlessError(`${this.socketPath}: ${err.code ?? err.message}`, { step: 'api request', ...(err.code ? { code: err.code } : {}), exitCode: 1 }),
        ),
      );
      req.end(payload);
    });
  }

  async info(): Promise<ApiInfo> {
    return (await this.call('GET', '/v1/info')).data as ApiInfo;
  }

  async listPorts(): Promise<PortStatus[]> {
    const data = (await this.call('GET', '/v1/ports')).data;
    // RootlessKit answers `null` for none.
    return Array.isArray(data) ? (data as PortStatus[]) : [];
  }

  async addPort(spec: PortSpec): Promise<PortStatus> {
    return (await this.call('POST', '/v1/ports', specJSON(spec))).data as PortStatus;
  }

  async removePort(id: number): Promise<void> {
    await this.call('DELETE', `/v1/ports/${id}`);
  }
}
