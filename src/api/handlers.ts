// The REST API's routes, as RootlessKit's API v1 (pkg/api/openapi.yaml):
//   GET /v1/info, GET /v1/ports, POST /v1/ports, DELETE /v1/ports/{id}
// Errors are {"message": "..."} with RootlessKit's status codes (400 for
// a refused request); unknown paths 404 and wrong methods 405, also JSON.
// No I/O here: server.ts feeds it requests, tests call it directly.
import type { PortDriver } from '../port/manager.js';
import { PortError, statusJSON } from '../port/manager.js';
import { PortRequestError, validatePortSpec } from '../port/spec.js';

/** RootlessKit 1.1's REST API version: the one its clients know. */
export const API_VERSION = '1.1.1';

export interface NetworkInfo {
  driver: string;
  dns?: string[];
  childIP?: string;
}

export interface ApiBackend {
  version: string;
  stateDir: string;
  childPID: number;
  /** undefined for --net=host (RootlessKit omits networkDriver then). */
  network?: NetworkInfo;
  /** undefined for --port-driver=none. */
  ports?: PortDriver;
}

export interface ApiResponse {
  status: number;
  /** JSON-encoded body, or undefined for none. */
  body?: unknown;
  headers?: Record<string, string>;
}

const error = (status: number, message: string, headers?: Record<string, string>): ApiResponse => ({
  status,
  body: { message },
  ...(headers ? { headers } : {}),
});

export function infoJSON(b: ApiBackend): Record<string, unknown> {
  const info: Record<string, unknown> = { apiVersion: API_VERSION, version: b.version, stateDir: b.stateDir, childPID: b.childPID };
  if (b.network !== undefined) {
    const n: Record<string, unknown> = { driver: b.network.driver };
    if (b.network.dns !== undefined && b.network.dns.length > 0) n.dns = [...b.network.dns];
    if (b.network.childIP !== undefined && b.network.childIP !== '') n.childIP = b.network.childIP;
    info.networkDriver = n;
  }
  if (b.ports !== undefined) {
    const p: Record<string, unknown> = { driver: b.ports.info.driver, protos: [...b.ports.info.protos] };
    if (b.ports.info.disallowLoopbackChildIP) p.disallowLoopbackChildIP = true;
    if (b.ports.info.sourceIPTransparent !== undefined) p.sourceIPTransparent = b.ports.info.sourceIPTransparent;
    info.portDriver = p;
  }
  return info;
}

const ROUTES: { path: RegExp; methods: string[] }[] = [
  { path: /^\/v1\/info$/, methods: ['GET'] },
  { path: /^\/v1\/ports$/, methods: ['GET', 'POST'] },
  { path: /^\/v1\/ports\/[^/]+$/, methods: ['DELETE'] },
];

/**
 * One request. `body` is the raw body (already size-limited by the server).
 * Never throws: every failure is a JSON error response.
 */
export async function route(b: ApiBackend, method: string, url: string, body: Buffer): Promise<ApiResponse> {
  const path = url.split('?')[0] ?? '';
  const known = ROUTES.find((r) => r.path.test(path));
  if (known === undefined) return error(404, `no such endpoint: ${method} ${path} (this is the RootlessKit API v1: /v1/info, /v1/ports)`);
  if (!known.methods.includes(method)) {
    return error(405, `method ${method} is not allowed on ${path} (allowed: ${known.methods.join(', ')})`, { Allow: known.methods.join(', ') });
  }
  try {
    if (path === '/v1/info') return { status: 200, body: infoJSON(b) };
    // RootlessKit's words for a session without a port driver.
    if (b.ports === undefined) return error(400, 'no PortDriver is available');
    if (path === '/v1/ports' && method === 'GET') return { status: 200, body: b.ports.list().sort((x, y) => x.id - y.id).map(statusJSON) };
    if (path === '/v1/ports') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return error(400, `malformed JSON: ${(err as Error).message}`);
      }
      const spec = validatePortSpec(parsed);
      const status = await b.ports.add(spec);
      return { status: 201, body: statusJSON(status) };
    }
    const idText = decodeURIComponent(path.slice('/v1/ports/'.length));
    if (!/^[0-9]+$/.test(idText) || !Number.isSafeInteger(Number(idText))) return error(400, `bad id ${JSON.stringify(idText)}: not a number`);
    await b.ports.remove(Number(idText));
    return { status: 200 };
  } catch (err) {
    if (err instanceof PortRequestError || err instanceof PortError) return error(400, err.message);
    if (err instanceof URIError) return error(400, `bad id: ${err.message}`);
    return error(500, `internal error: ${(err as Error)?.message ?? String(err)}`);
  }
}
