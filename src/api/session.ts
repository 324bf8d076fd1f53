// The REST API's place in a session's life (its session part:
// src/parent/parts/api.ts). With drivers, api.sock is made after every -p
// port listens and before the target starts (programs like dockerd take
// api.sock as "ready" and read /v1/info when they start). Without
// (--net=host, no ports), it starts right after the target, off the
// critical path. node:http is loaded only then.
import type { Logger } from '../sys/log.js';
import type { StateDir } from '../sys/statedir.js';
import type { NetworkSession } from '../net/index.js';
import type { PortSession } from '../port/index.js';
import type { ApiServer } from './server.js';

/** How long after the target started api.sock appears without drivers. */
const LATE_START_MS = 50;

export interface ApiSessionInput {
  state: StateDir;
  childPid: number;
  network?: NetworkSession;
  ports?: PortSession;
}

async function loadServer(): Promise<{ startApiServer: typeof import('./server.js').startApiServer; packageVersion: () => string }> {
  const [server, version] = await Promise.all([import('./server.js'), import('../sys/version.js')]);
  // The version is read from package.json once, here too.
  version.packageVersion();
  return { startApiServer: server.startApiServer, packageVersion: version.packageVersion };
}

export class ApiSession {
  private starting: Promise<ApiServer | undefined> | undefined;
  private closed = false;
  private lateTimer: NodeJS.Timeout | undefined;
  private loading: ReturnType<typeof loadServer> | undefined;

  constructor(private readonly log: Logger) {}

  /** Load the server's modules now (while the child boots), not on the critical path. */
  preload(): void {
    this.loading ??= loadServer();
    this.loading.catch(() => {});
  }

  /** Serve api.sock; rejects with a RootlessError if it cannot. */
  start(input: ApiSessionInput): Promise<void> {
    this.starting = this.listen(input);
    return this.starting.then(() => {});
  }

  /**
   * The same, for when the target runs already, after a short delay: a
   * target that exits at once (`rootless run -- true`) ends the session
   * before node:http is even loaded, which would cost it ~5 ms. A failure
   * is a warning.
   */
  startLate(input: ApiSessionInput, delayMs = LATE_START_MS): void {
    this.lateTimer = setTimeout(() => {
      this.lateTimer = undefined;
      this.starting = this.listen(input).catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'the REST API (api.sock) is not available');
        return undefined;
      });
    }, delayMs);
  }

  private async listen(input: ApiSessionInput): Promise<ApiServer | undefined> {
    const { startApiServer, packageVersion } = await (this.loading ??= loadServer());
    if (this.closed) return undefined;
    const net = input.network?.apiInfo;
    const server = await startApiServer(
      input.state.path,
      {
        version: packageVersion(),
        stateDir: input.state.path,
        childPID: input.childPid,
        ...(net !== undefined && net.driver !== 'host' ? { network: { driver: net.driver, dns: net.dns, ...(net.childIP ? { childIP: net.childIP } : {}) } } : {}),
        ...(input.ports?.driver !== undefined ? { ports: input.ports.driver } : {}),
      },
      this.log,
    );
    input.state.track('api.sock');
    if (this.closed) {
      await server.close();
      return undefined;
    }
    return server;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.lateTimer !== undefined) clearTimeout(this.lateTimer);
    const server = await this.starting?.catch(() => undefined);
    await server?.close();
  }
}
