// The REST API server: HTTP/1.1 on $STATE/api.sock (0600), RootlessKit's
// API v1 (routes in handlers.ts). A bad client gets a 4xx and never stalls
// or crashes the session: bodies are capped, slow and idle clients are
// disconnected, and the number of connections is bounded, so API clients
// cannot take the fds the port relay needs.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { chmodSync, lstatSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RootlessError } from '../sys/errors.js';
import type { Logger } from '../sys/log.js';
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

/** Bounds on API clients; tests shorten the times. */
export interface ApiLimits {
  /** Open connections at once; more are accepted and closed at once. */
  maxConnections: number;
  /** A request's headers must arrive within this. */
  headersTimeoutMs: number;
  /** A whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** A connection with no traffic for this long is closed. */
  idleTimeoutMs: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  maxConnections: 128,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
};

/**
 * Answers outside a request (malformed, timed out, CONNECT, unknown
 * method) and then closes: the server keeps connections half-open for
 * HTTP, so a client that never closes would otherwise keep its fd forever.
 */
function answerAndClose(socket: Duplex, status: string, message: string, extra = ''): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nConnection: close\r\n${extra}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.once('finish', () => socket.destroy());
  // A client that does not read cannot hold it either.
  setTimeout(() => socket.destroy(), 1000).unref();
}

const ALLOW = 'Allow: GET, POST, DELETE\r\n';

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
export async function startApiServer(
  stateDir: string, backend: ApiBackend, log: Logger, limits: ApiLimits = DEFAULT_API_LIMITS,
): Promise<ApiServer> {
  const path = join(stateDir, 'api.sock');
  const tmp = join(stateDir, '.api.sock.tmp');
  // Whatever is there (a planted link too) goes; bind() makes a new node.
  rmSync(tmp, { force: true });
  const server: Server = createServer(
    // Timeouts are checked this often; the default (30 s) would let a flood pile up.
    { connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 2)) },
    (req, res) => handle(backend, log, req, res),
  );
  server.maxConnections = limits.maxConnections;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = Math.min(5_000, limits.idleTimeoutMs);
  // No 'timeout' listener: an idle socket is destroyed.
  server.timeout = limits.idleTimeoutMs;
  server.maxHeadersCount = 100;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'HPE_INVALID_METHOD') answerAndClose(socket, '405 Method Not Allowed', 'method not allowed (allowed: GET, POST, DELETE)', ALLOW);
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') answerAndClose(socket, '408 Request Timeout', 'request timeout');
    else answerAndClose(socket, '400 Bad Request', 'malformed request');
  });
  // Node hands CONNECT and Upgrade requests to these events, and without a
  // listener drops the connection without a word.
  const refuse = (what: string) => (req: IncomingMessage, socket: Duplex): void => {
    log.debug({ method: req.method, url: req.url }, `api ${what} refused`);
    answerAndClose(socket, '405 Method Not Allowed', `method ${req.method} is not allowed (allowed: GET, POST, DELETE)`, ALLOW);
  };
  server.on('connect', refuse('CONNECT'));
  server.on('upgrade', refuse('upgrade'));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // bind() (synchronous inside listen) creates the socket with the
      // umask's mode: never wider than 0600, not even for a moment.
      const umask = process.umask(0o177);
      try {
        server.listen(tmp, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(umask);
      }
    });
    const st = lstatSync(tmp);
    if (!st.isSocket()) throw Object.assign(new Error('replaced while binding'), { code: 'EEXIST' });
    if ((st.mode & 0o777) !== 0o600) chmodSync(tmp, 0o600);
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
