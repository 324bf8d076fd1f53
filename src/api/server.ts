// The REST API server: HTTP/1.1 on $STATE/api.sock (0600), RootlessKit's
// API v1 (routes in handlers.ts). A bad client gets a 4xx and never stalls
// or crashes the session: bodies are capped, slow clients time out.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RootlessError } from '../sys/errors.js';
import type { Logger } from '../cli/log.js';
import { route, type ApiBackend, type ApiResponse } from './handlers.js';

/** A PortSpec is ~150 bytes; nothing legitimate comes near this. */
export const MAX_BODY = 64 * 1024;

export interface ApiServer {
  readonly path: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, r: ApiResponse, closeAfter = false): void {
  const payload = r.body === undefined ? undefined : Buffer.from(JSON.stringify(r.body));
  const headers: Record<string, string | number> = { ...(r.headers ?? {}) };
  if (payload !== undefined) headers['Content-Type'] = 'application/json';
  headers['Content-Length'] = payload?.length ?? 0;
  if (closeAfter) headers.Connection = 'close';
  res.writeHead(r.status, headers);
  res.end(payload);
}

/** What a refused body may still send before the connection is cut. */
const DRAIN_LIMIT = 16 << 20;

function handle(backend: ApiBackend, log: Logger, req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  let size = 0;
  // Too large: the body is read and dropped, then answered 413 (a client
  // still writing would otherwise see a reset instead of the answer); past
  // DRAIN_LIMIT the answer goes at once and the connection is cut.
  let refused: string | undefined;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY) refused = `request body of ${declared} bytes is larger than ${MAX_BODY}`;
  if (declared > DRAIN_LIMIT) {
    send(res, { status: 413, body: { message: refused! } }, true);
    req.destroy();
    return;
  }
  req.on('data', (d: Buffer) => {
    size += d.length;
    if (refused === undefined && size > MAX_BODY) {
      refused = `request body is larger than ${MAX_BODY} bytes`;
      chunks.length = 0;
    }
    if (refused === undefined) {
      chunks.push(d);
    } else if (size > DRAIN_LIMIT && !res.headersSent) {
      send(res, { status: 413, body: { message: refused } }, true);
      req.destroy();
    }
  });
  req.on('error', () => {});
  req.on('end', () => {
    if (refused !== undefined) {
      if (!res.headersSent) send(res, { status: 413, body: { message: refused } }, true);
      return;
    }
    route(backend, req.method ?? 'GET', req.url ?? '/', Buffer.concat(chunks)).then(
      (r) => {
        log.debug({ method: req.method, url: req.url, status: r.status }, 'api request');
        send(res, r);
      },
      (err: unknown) => send(res, { status: 500, body: { message: String(err) } }),
    );
  });
}

/**
 * Listens on <stateDir>/api.sock. The socket is made under a temporary
 * name, set to 0600, then renamed: api.sock appears only when it is ready
 * and never with a wider mode.
 */
export async function startApiServer(stateDir: string, backend: ApiBackend, log: Logger): Promise<ApiServer> {
  const path = join(stateDir, 'api.sock');
  const tmp = join(stateDir, '.api.sock.tmp');
  rmSync(tmp, { force: true });
  const server: Server = createServer((req, res) => handle(backend, log, req, res));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 31\r\n\r\n{"message":"malformed request"}');
    else socket.destroy();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    server.close();
    rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new RootlessError(`cannot serve the REST API on ${path}: ${code ?? (err as Error).message}`, {
      step: 'api.sock', subject: path, ...(code ? { code } : {}),
    });
  }
  server.on('error', (err) => log.warn({ err: err.message }, 'REST API server error'));
  // The session does not wait for API clients to leave.
  server.unref();
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        rmSync(path, { force: true });
      }),
  };
}
