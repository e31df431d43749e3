/**
 * The read-only HTTP endpoint (off unless http.listen is set): health, readiness,
 * Prometheus metrics and the dashboard. Plain node:http — five GET routes do
 * not need a framework. It binds loopback unless told otherwise, answers only
 * GET and HEAD, and never echoes an internal error: the details go to the log.
 *
 * Against DNS rebinding (a page on attacker.example whose name re-resolves to
 * 127.0.0.1, reading the dashboard as its own origin), a request must name this
 * server in `Host`: the listen address, `localhost`, or an IP literal (a
 * rebinding page always sends its own host name). Anything else gets 421.
 */
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import type { Log } from '../../domain/ports.js';
import { type DashboardSource, renderDashboard } from './dashboard.js';
import type { DaemonMetrics } from './metrics.js';

export interface HealthState {
  /** The scheduler is running (liveness). */
  alive: boolean;
  /** Setup passed and the workers started (readiness). */
  ready: boolean;
  /** Why not, shown on /healthz or /readyz when that check fails. Must not contain secrets. */
  detail?: string;
}

export interface HttpServerOptions {
  /** `HOST:PORT`, `[IPv6]:PORT` or `PORT` (binds 127.0.0.1); port 0 picks a free port. */
  listen: string;
  metrics: DaemonMetrics;
  health: () => HealthState;
  dashboard: DashboardSource;
  /** Where failures while answering go. Default: nowhere. */
  log?: Log;
  /** How often the dashboard page refreshes itself. Default 5000 ms. */
  dashboardRefreshMs?: number;
}

export interface RunningHttpServer {
  /** `http://HOST:PORT`, with the port actually bound. */
  readonly url: string;
  /** Stops listening and destroys open (keep-alive) connections. Idempotent. */
  close(): Promise<void>;
}

export interface ListenAddress {
  host: string;
  port: number;
}

const DEFAULT_HOST = '127.0.0.1';

/** Parses `http.listen`; throws a RangeError naming the accepted forms. */
export function parseListen(listen: string): ListenAddress {
  const text = listen.trim();
  const match = /^(\d+)$/.exec(text) ?? /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]\s]+):(\d+)$/.exec(text);
  const portText = match?.[2] ?? match?.[1];
  const host = match?.[2] === undefined ? DEFAULT_HOST : match[1];
  const port = Number(portText);
  if (match === null || host === undefined || !Number.isInteger(port) || port > 65_535) {
    throw new RangeError(`http.listen must be PORT or HOST:PORT, e.g. 9464 or 127.0.0.1:9464; got "${listen}"`);
  }
  return { host, port };
}

const COMMON_HEADERS: OutgoingHttpHeaders = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

function send(res: ServerResponse, status: number, body: string, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': 'text/plain; charset=utf-8',
    ...headers,
    'content-length': Buffer.byteLength(body),
  });
  // Node drops the body of a HEAD response by itself; the length stays right.
  res.end(body);
}

/** Only what the page itself needs: its nonce'd style and script, and fetches to this origin. */
function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

type Route = (res: ServerResponse) => Promise<void> | void;

/**
 * Whether `Host` names this server: the configured listen host, localhost, or
 * any IP literal (127.0.0.1, [::1], the LAN address of a 0.0.0.0 binding). A
 * host name other than those could be an attacker's domain pointed at us.
 */
export function isOwnHost(header: string | undefined, listenHost: string): boolean {
  if (header === undefined) return false;
  const host = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(header.trim())?.[1]?.toLowerCase();
  if (host === undefined || host === '') return false;
  if (host === 'localhost' || host === listenHost.toLowerCase()) return true;
  return host.startsWith('[') ? isIP(host.slice(1, -1)) === 6 : isIP(host) === 4;
}

function routes(options: HttpServerOptions): Record<string, Route> {
  const { metrics, health, dashboard } = options;
  return {
    '/healthz': (res) => {
      const state = health();
      if (state.alive) send(res, 200, 'ok\n');
      else send(res, 503, `not alive${state.detail ? `: ${state.detail}` : ''}\n`);
    },
    '/readyz': (res) => {
      const state = health();
      if (state.ready) send(res, 200, 'ready\n');
      else send(res, 503, `not ready: ${state.detail ?? 'setup has not passed yet'}\n`);
    },
    '/metrics': async (res) => {
      send(res, 200, await metrics.metrics(), { 'content-type': metrics.contentType });
    },
    '/api/status': async (res) => {
      send(res, 200, JSON.stringify(await dashboard.snapshot()), { 'content-type': 'application/json; charset=utf-8' });
    },
    '/': async (res) => {
      const snapshot = await dashboard.snapshot();
      const nonce = randomBytes(16).toString('base64');
      const page = renderDashboard(snapshot, {
        nonce,
        ...(options.dashboardRefreshMs === undefined ? {} : { refreshMs: options.dashboardRefreshMs }),
      });
      send(res, 200, page, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': contentSecurityPolicy(nonce) });
    },
  };
}

async function answer(table: Record<string, Route>, req: IncomingMessage, res: ServerResponse, listenHost: string, log?: Log): Promise<void> {
  const method = req.method ?? 'GET';
  // Not `new URL()`: it would read `//metrics` as a host name.
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  try {
    if (!isOwnHost(req.headers.host, listenHost)) {
      send(res, 421, 'misdirected request: this server answers only to its listen address, localhost or an IP address\n');
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, 'method not allowed: this endpoint is read-only\n', { allow: 'GET, HEAD' });
      return;
    }
    const route = Object.hasOwn(table, path) ? table[path] : undefined;
    if (route === undefined) {
      send(res, 404, 'not found\n');
      return;
    }
    await route(res);
  } catch (error) {
    log?.error({ err: error, path }, 'HTTP endpoint failed to answer');
    if (!res.headersSent) send(res, 500, 'internal error; see the daemon log\n');
    else res.destroy();
  }
}

/** Starts listening; rejects when the address cannot be bound. */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningHttpServer> {
  const address = parseListen(options.listen);
  const table = routes(options);
  const server = createServer((req, res) => {
    void answer(table, req, res, address.host, options.log);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(new Error(`cannot listen on ${address.host}:${address.port} (http.listen): ${error.code ?? error.message}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => options.log?.error({ err: error }, 'HTTP endpoint error'));

  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${bound.port}`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Browsers and scrapers keep connections alive; without this, close() waits for them.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
