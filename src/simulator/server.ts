/** The simulator's HTTP server: authentication, rate limits, faults, latency, ETags, and the Simulator handle. */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultQueue } from './faults.js';
import { prepareQuery, rateLimitedReply, runQuery, type PreparedQuery } from './graphql/endpoint.js';
import {
  etagMatches,
  faultReply,
  headerOf,
  MALFORMED_BODY,
  rateLimitHeaders,
  readBody,
  tokenOf,
  type RateLimitResource,
} from './http.js';
import { BreachLog, restPoints, SecondaryLimiter, type Api } from './limits.js';
import { errors, type UrlBase } from './payloads.js';
import { RateLimitBudgets } from './rate-limit.js';
import { matchRoute, type Reply } from './routes.js';
import { seedScenario } from './seed.js';
import { toSimComment } from './records.js';
import { SimulatorState } from './state.js';
import type { RateLimitState, SimBreachKind, SimRequest, Simulator, SimulatorOptions } from './types.js';

const API_PREFIX = '/api/v3';

/** What one admitted request needs to be answered. */
interface Exchange {
  record: SimRequest;
  token: string;
  requestId: string;
  search: URLSearchParams;
  base: UrlBase;
  body: string;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const clock = options.now ?? Date.now;
  const clockOffsetMs = options.clockOffsetMs ?? 0;
  const now = clockOffsetMs === 0 ? clock : () => clock() + clockOffsetMs;
  const state = new SimulatorState(now);
  const tokens = new Set([...(options.tokens ?? []), ...(options.scenario?.tokens ?? [])]);
  if (tokens.size === 0) tokens.add('sim-token');
  if (options.scenario) seedScenario(state, options.scenario);
  const windowMs = options.rateLimitWindowMs ?? 3_600_000;
  const budgets = new RateLimitBudgets(options.rateLimit ?? 5000, windowMs, now);
  const graphqlBudgets = new RateLimitBudgets(options.graphqlRateLimit ?? 5000, windowMs, now);
  const secondary = options.secondaryLimits ? new SecondaryLimiter(options.secondaryLimits, now) : undefined;
  const latency = options.latency ?? {};
  const breaches = new BreachLog();
  const faults = new FaultQueue();
  const requests: SimRequest[] = [];
  const listeners = new Set<(request: SimRequest) => void>();
  const shutdown = new AbortController();
  let requestCounter = 0;
  let inFlight = 0;
  const instance = randomBytes(2).toString('hex').toUpperCase();

  const requestLogLimit = options.requestLogLimit ?? Number.POSITIVE_INFINITY;
  function remember(record: SimRequest): void {
    requests.push(record);
    if (requests.length > requestLogLimit) requests.splice(0, requests.length - requestLogLimit);
  }

  function notify(record: SimRequest): void {
    for (const listener of [...listeners]) listener(record);
  }

  function send(
    res: ServerResponse,
    record: SimRequest,
    reply: Reply,
    limit: RateLimitState,
    requestId: string,
    resource: RateLimitResource = 'core',
  ): void {
    const text = reply.body === undefined || reply.status === 304 ? undefined : (reply.text ?? JSON.stringify(reply.body));
    res.statusCode = reply.status;
    const headers: Record<string, string> = {
      date: new Date(now()).toUTCString(),
      ...rateLimitHeaders(limit, resource),
      'x-github-request-id': requestId,
      'x-github-media-type': resource === 'graphql' ? 'github.v4; format=json' : 'github.v3; format=json',
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

  function breach(kind: SimBreachKind, exchange: Pick<Exchange, 'record' | 'token'>): void {
    breaches.record({ kind, at: now(), token: exchange.token, method: exchange.record.method, path: exchange.record.path });
  }

  /** False when the simulator closed while waiting. */
  async function wait(ms: number): Promise<boolean> {
    if (ms <= 0) return true;
    try {
      await sleep(ms, undefined, { signal: shutdown.signal });
      return true;
    } catch {
      return false;
    }
  }

  function restReply(exchange: Exchange): Reply {
    const { record, token } = exchange;
    const route = matchRoute(record.method, record.path);
    const free = route?.free ?? false;
    if (!free && budgets.exhausted(token)) {
      breach('primary', exchange);
      return { status: 403, body: errors.rateLimitExceeded(exchange.requestId, new Date(now()).toISOString()) };
    }
    const reply = route
      ? route.handle({
          state,
          budgets,
          graphqlBudgets,
          token,
          method: record.method,
          path: record.path,
          search: exchange.search,
          base: exchange.base,
          body: exchange.body,
        })
      : { status: 404, body: errors.notFound() };
    if (record.method === 'GET' && reply.status === 200) {
      reply.text = JSON.stringify(reply.body);
      const etag = `W/"${createHash('sha256').update(reply.text).digest('hex')}"`;
      reply.headers = { ...reply.headers, etag, 'cache-control': 'private, max-age=60, s-maxage=60' };
      // A conditional hit is free on GitHub: this is what makes ETag polling affordable.
      if (etagMatches(record.ifNoneMatch, etag)) return { status: 304, headers: reply.headers };
    }
    if (!free) {
      budgets.charge(token);
      record.rateLimitCost = 1;
    }
    return reply;
  }

  function graphqlReply(exchange: Exchange, prepared: PreparedQuery): Reply {
    if (!prepared.ok) return prepared.reply;
    const { token, record } = exchange;
    if (graphqlBudgets.stateOf(token).remaining < prepared.cost) {
      breach('graphql-primary', exchange);
      return rateLimitedReply();
    }
    graphqlBudgets.charge(token, prepared.cost);
    record.rateLimitCost = prepared.cost;
    return runQuery(prepared, {
      state,
      faults,
      base: exchange.base,
      rateLimit: graphqlBudgets.stateOf(token),
      cost: prepared.cost,
      nodeCount: prepared.nodeCount,
    });
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
    const graphql = method === 'POST' && path === '/graphql';
    const resource: RateLimitResource = graphql ? 'graphql' : 'core';
    const limitNow = (): RateLimitState =>
      authorized ? (graphql ? graphqlBudgets : budgets).stateOf(token) : budgets.anonymous();

    const fault = faults.take(method, path);
    if (fault?.kind === 'drop') {
      req.socket.destroy();
      remember(record);
      notify(record);
      return;
    }
    if (fault?.kind === 'delay') {
      if (!(await wait(fault.ms))) return; // the simulator closed while the request waited
    } else if (fault?.kind === 'malformed') {
      res.writeHead(200, {
        date: new Date(now()).toUTCString(),
        ...rateLimitHeaders(limitNow(), resource),
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
      send(res, record, faultReply(fault, requestId), limitNow(), requestId, resource);
      return;
    }

    if (!authorized) {
      send(res, record, { status: 401, body: errors.badCredentials() }, limitNow(), requestId, resource);
      return;
    }
    const exchange: Exchange = { record, token, requestId, search: url.searchParams, base, body };
    const prepared = graphql ? prepareQuery(body) : undefined;
    const api: Api = graphql ? 'graphql' : 'rest';
    if (secondary) {
      const points = prepared ? (prepared.ok && prepared.mutation ? 5 : 1) : restPoints(method);
      const refusal = secondary.admit(token, api, points);
      if (refusal) {
        breach(refusal, exchange);
        const reply = {
          status: 403,
          body: errors.secondaryRateLimit(requestId, 403),
          headers: { 'retry-after': String(secondary.retryAfterSeconds(token)) },
        };
        send(res, record, reply, limitNow(), requestId, resource);
        return;
      }
    }
    let cpuMs = 0;
    try {
      const reply = prepared ? graphqlReply(exchange, prepared) : restReply(exchange);
      cpuMs = prepared
        ? (latency.graphqlMs ?? 0) + (latency.graphqlPerRepositoryMs ?? 0) * (prepared.ok ? prepared.repositories : 0)
        : (latency.restMs ?? 0);
      // The simulated response time: waited before answering, counted as CPU time by the secondary limit.
      if (!(await wait(cpuMs))) return;
      send(res, record, reply, limitNow(), requestId, resource);
    } finally {
      secondary?.finish(token, api, cpuMs);
    }
  }

  const server = createServer((req, res) => {
    inFlight++;
    res.once('close', () => inFlight--);
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
    removeRepository: (owner, name) => state.removeRepository(owner, name),
    archiveRepository: (owner, name, archived = true) => state.archiveRepository(owner, name, archived),
    hideFromScopeListings: (owner, name, number) => state.hideFromScopeListings(owner, name, number),
    addIssue: (owner, name, input) => state.addIssue(owner, name, input),
    updateIssue: (owner, name, number, patch) => state.updateIssue(owner, name, number, patch),
    addComment: (owner, name, number, input) => state.addComment(owner, name, number, input),
    editComment: (owner, name, commentId, body) => toSimComment(state.editComment(state.comment(owner, name, commentId), body)),
    reactions: (owner, name, commentId) => state.reactions(owner, name, commentId),
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
    setGraphqlRateLimit: (token, limit) => graphqlBudgets.set(token, limit),
    graphqlRateLimitOf: (token) => graphqlBudgets.stateOf(token),
    breaches: () => breaches.all(),
    inFlight: () => inFlight,
    injectFault: (fault) => faults.inject(fault),
    clearFaults: () => faults.clear(),
  };
}
