/** The simulator's HTTP server: authentication, rate limiting, faults, ETags, and the Simulator handle. */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultQueue } from './faults.js';
import { errors, type UrlBase } from './payloads.js';
import { RateLimitBudgets } from './rate-limit.js';
import { matchRoute, type Reply } from './routes.js';
import { seedScenario } from './seed.js';
import { SimulatorState } from './state.js';
import type { RateLimitState, SimFault, SimRequest, Simulator, SimulatorOptions } from './types.js';

const API_PREFIX = '/api/v3';
const MAX_BODY_BYTES = 1 << 20;

/** 'token X' or 'Bearer X' → X; anything else → null. */
function tokenOf(authorization: string | undefined): string | null {
  const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match ? (match[1] ?? null) : null;
}

function headerOf(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? null);
}

/** If-None-Match holds a list of tags; weak comparison ignores the W/ prefix, as RFC 9110 says for GET. */
function etagMatches(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  const strip = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || strip(tag) === strip(etag));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function rateLimitHeaders(limit: RateLimitState): Record<string, string> {
  return {
    'x-ratelimit-limit': String(limit.limit),
    'x-ratelimit-remaining': String(limit.remaining),
    'x-ratelimit-reset': String(limit.resetAt),
    'x-ratelimit-used': String(limit.used),
    'x-ratelimit-resource': 'core',
  };
}

/** A truncated list of issues: valid JSON up to the point where the connection "broke". */
const MALFORMED_BODY = '[{"id":1,"number":1,"title":"Crash when the config file is emp';

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const clock = options.now ?? Date.now;
  const clockOffsetMs = options.clockOffsetMs ?? 0;
  const now = clockOffsetMs === 0 ? clock : () => clock() + clockOffsetMs;
  const state = new SimulatorState(now);
  const tokens = new Set([...(options.tokens ?? []), ...(options.scenario?.tokens ?? [])]);
  if (tokens.size === 0) tokens.add('sim-token');
  if (options.scenario) seedScenario(state, options.scenario);
  const budgets = new RateLimitBudgets(options.rateLimit ?? 5000, options.rateLimitWindowMs ?? 3_600_000, now);
  const faults = new FaultQueue();
  const requests: SimRequest[] = [];
  const listeners = new Set<(request: SimRequest) => void>();
  const shutdown = new AbortController();
  let requestCounter = 0;
  const instance = randomBytes(2).toString('hex').toUpperCase();

  const requestLogLimit = options.requestLogLimit ?? Number.POSITIVE_INFINITY;
  function remember(record: SimRequest): void {
    requests.push(record);
    if (requests.length > requestLogLimit) requests.splice(0, requests.length - requestLogLimit);
  }

  function notify(record: SimRequest): void {
    for (const listener of [...listeners]) listener(record);
  }

  function send(res: ServerResponse, record: SimRequest, reply: Reply, limit: RateLimitState, requestId: string): void {
    const text = reply.body === undefined || reply.status === 304 ? undefined : JSON.stringify(reply.body);
    res.statusCode = reply.status;
    const headers: Record<string, string> = {
      date: new Date(now()).toUTCString(),
      ...rateLimitHeaders(limit),
      'x-github-request-id': requestId,
      'x-github-media-type': 'github.v3; format=json',
      'x-github-api-version-selected': '2022-11-28',
      vary: 'Accept, Authorization, Cookie, X-GitHub-OTP',
      ...reply.headers,
    };
    if (text !== undefined) {
      headers['content-type'] = 'application/json; charset=utf-8';
      headers['content-length'] = String(Buffer.byteLength(text));
    }
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    record.status = reply.status;
    // Recorded before the bytes leave, so a client that has its answer always finds its request here.
    remember(record);
    res.once('finish', () => notify(record));
    res.end(text);
  }

  function faultReply(fault: SimFault, requestId: string): Reply {
    switch (fault.kind) {
      case 'status': {
        const fallback = { message: STATUS_CODES[fault.status] ?? 'Error', documentation_url: 'https://docs.github.com/rest' };
        const body = fault.status === 204 || fault.status === 304 ? undefined : (fault.body ?? fallback);
        return { status: fault.status, body, headers: fault.headers ?? {} };
      }
      case 'secondary-rate-limit': {
        const status = fault.status ?? 403;
        const headers: Record<string, string> =
          fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
        return { status, body: errors.secondaryRateLimit(requestId, status), headers };
      }
      case 'server-error': {
        const status = fault.status ?? 500;
        return { status, body: { message: status === 500 ? 'Server Error' : (STATUS_CODES[status] ?? 'Error') } };
      }
      default:
        throw new Error(`fault ${fault.kind} has no reply`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = now();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://simulator.invalid');
    let path = url.pathname;
    let prefix = '';
    if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)) {
      prefix = API_PREFIX;
      path = path.slice(API_PREFIX.length) || '/';
    }
    const token = tokenOf(req.headers.authorization);
    const requestId = `${instance}:${(++requestCounter).toString(16).toUpperCase().padStart(6, '0')}`;
    const record: SimRequest = {
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      ifNoneMatch: headerOf(req, 'if-none-match'),
      userAgent: headerOf(req, 'user-agent'),
      token,
      startedAt,
      rateLimitCost: 0,
    };
    const body = await readBody(req);
    const origin = `http://${req.headers.host ?? address}`;
    const base: UrlBase = { api: `${origin}${prefix}`, web: origin };
    const authorized = token !== null && tokens.has(token);
    const limitNow = (): RateLimitState => (authorized ? budgets.stateOf(token) : budgets.anonymous());

    const fault = faults.take(method, path);
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      remember(record);
      notify(record);
      return;
    }
    if (fault?.kind === 'delay') {
      try {
        await sleep(fault.ms, undefined, { signal: shutdown.signal });
      } catch {
        return; // the simulator closed while the request waited
      }
    } else if (fault?.kind === 'malformed') {
      res.writeHead(200, {
        date: new Date(now()).toUTCString(),
        ...rateLimitHeaders(limitNow()),
        'x-github-request-id': requestId,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(MALFORMED_BODY)),
      });
      record.status = 200;
      remember(record);
      res.once('finish', () => notify(record));
      res.end(MALFORMED_BODY);
      return;
    } else if (fault) {
      send(res, record, faultReply(fault, requestId), limitNow(), requestId);
      return;
    }

    if (!authorized) {
      send(res, record, { status: 401, body: errors.badCredentials() }, limitNow(), requestId);
      return;
    }
    const route = matchRoute(method, path);
    const free = route?.free ?? false;
    if (!free && budgets.exhausted(token)) {
      const timestamp = new Date(now()).toISOString();
      const reply = { status: 403, body: errors.rateLimitExceeded(requestId, timestamp) };
      send(res, record, reply, limitNow(), requestId);
      return;
    }
    const reply = route
      ? route.handle({ state, budgets, token, method, path, search: url.searchParams, base, body })
      : { status: 404, body: errors.notFound() };

    if (method === 'GET' && reply.status === 200) {
      const etag = `W/"${createHash('sha256').update(JSON.stringify(reply.body)).digest('hex')}"`;
      reply.headers = { ...reply.headers, etag, 'cache-control': 'private, max-age=60, s-maxage=60' };
      if (etagMatches(record.ifNoneMatch, etag)) {
        // A conditional hit is free on GitHub: this is what makes ETag polling affordable.
        send(res, record, { status: 304, headers: reply.headers }, limitNow(), requestId);
        return;
      }
    }
    if (!free) {
      budgets.charge(token);
      record.rateLimitCost = 1;
    }
    send(res, record, reply, limitNow(), requestId);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      res.statusCode = 500;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify({ message: `simulator error: ${error instanceof Error ? error.message : String(error)}` }));
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${address}`,
    tokens: [...tokens],
    close() {
      closing ??= new Promise<void>((resolve) => {
        shutdown.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
    addRepository: (input) => state.addRepository(input),
    addIssue: (owner, name, input) => state.addIssue(owner, name, input),
    updateIssue: (owner, name, number, patch) => state.updateIssue(owner, name, number, patch),
    addComment: (owner, name, number, input) => state.addComment(owner, name, number, input),
    transferIssue: (fromOwner, fromName, number, toOwner, toName) =>
      state.transferIssue(fromOwner, fromName, number, toOwner, toName),
    issues: (owner, name) => state.issues(owner, name),
    comments: (owner, name, number) => state.comments(owner, name, number),
    get requests() {
      return requests;
    },
    clearRequests() {
      requests.length = 0;
    },
    onRequest(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    setRateLimit: (token, limit) => budgets.set(token, limit),
    rateLimitOf: (token) => budgets.stateOf(token),
    injectFault: (fault) => faults.inject(fault),
    clearFaults: () => faults.clear(),
  };
}
