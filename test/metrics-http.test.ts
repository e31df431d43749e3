/**
 * The HTTP endpoint and the metrics behind it: real GitHub traffic against the
 * simulator and real scheduler passes feed DaemonMetrics, /metrics is scraped
 * over HTTP and parsed, and the numbers must match what actually happened.
 */
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { ClassifiedError } from '../src/domain/failure.js';
import type { Log } from '../src/domain/ports.js';
import { GitHubClient } from '../src/infra/github/index.js';
import type { DashboardSnapshot, DashboardSource } from '../src/infra/telemetry/dashboard.js';
import { type HealthState, parseListen, startHttpServer } from '../src/infra/telemetry/http-server.js';
import { DaemonMetrics, type QueueState } from '../src/infra/telemetry/metrics.js';
import type { WorkJob } from '../src/schedule/planner.js';
import { Scheduler } from '../src/schedule/scheduler.js';
import { type Simulator, startSimulator } from '../src/simulator/index.js';

const TOKEN = 'ghp_metricsTestTOKEN_d1st1nct1ve_7777777777';
const REPO = { owner: 'acme', name: 'api' };

// ---------------------------------------------------------------- Prometheus text format

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/y;
  while (pair.lastIndex < text.length) {
    const match = pair.exec(text);
    if (!match) throw new Error(`bad label set in: ${line}`);
    labels[match[1] as string] = (match[2] as string).replace(/\\([\\"n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** Like Prometheus (Go's ParseFloat), NaN and Inf in any case: prom-client writes an empty lag histogram's mean as `Nan`. */
function parseValue(text: string, line: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw new Error(`bad sample value in: ${line}`);
  return value;
}

/** A strict reader of the text exposition format: any line it cannot read fails the test. */
function parsePrometheusText(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!sample) throw new Error(`unreadable exposition line: ${line}`);
    const name = sample[1] as string;
    samples.push({ name, labels: parseLabels(sample[2] ?? '', line), value: parseValue(sample[3] as string, line) });
  }
  return { samples, types };
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && sameLabels(s.labels, labels))?.value;
}

// ---------------------------------------------------------------- fixtures

const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()?.();
});

const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLog };

const snapshot: DashboardSnapshot = {
  generatedAt: '2026-03-01T12:00:00.000Z',
  ready: true,
  repositories: [
    { repository: 'acme/api', validated: true, lastPolledAt: '2026-03-01T11:59:30.000Z', lastError: null, issues: 2, jobs: { pending: 1, running: 0, done: 3, dead: 0 } },
  ],
  queue: { pending: 1, running: 0, done: 3, dead: 0 },
  rateLimit: { limit: 100, remaining: 97, resetAt: 1_772_370_000 },
  latestComments: [{ repository: 'acme/api', number: 1, title: 'a <b>bold</b> title', url: 'https://github.com/acme/api/issues/1#issuecomment-9', postedAt: '2026-03-01T11:58:00.000Z' }],
};

interface Setup {
  url: string;
  close(): Promise<void>;
  metrics: DaemonMetrics;
  /** Mutable: the server asks for it on every request. */
  health: HealthState;
  /** Mutable: what the queue read returns (or throws) at the next scrape. */
  queue: Record<QueueState, number> | Error;
  collectErrors: unknown[];
}

async function serve(listen = '127.0.0.1:0', dashboard: DashboardSource = { snapshot: async () => snapshot }): Promise<Setup> {
  const state = {
    health: { alive: false, ready: false } as HealthState,
    queue: { pending: 2, running: 1, done: 5, dead: 1 } as Setup['queue'],
    collectErrors: [] as unknown[],
  };
  const metrics = new DaemonMetrics({
    queueCounts: async () => {
      if (state.queue instanceof Error) throw state.queue;
      return state.queue;
    },
    onCollectError: (error) => state.collectErrors.push(error),
  });
  const server = await startHttpServer({
    listen,
    metrics,
    health: () => state.health,
    dashboard,
    log: silentLog,
  });
  closers.push(() => server.close());
  return Object.assign(state, { url: server.url, close: () => server.close(), metrics });
}

async function scrape(url: string): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text()).samples;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

// ---------------------------------------------------------------- tests

void describe('/metrics', () => {
  void it('counts GitHub requests, 304s, the rate-limit budget and waits exactly as the simulator saw them', async () => {
    // One fake clock for the simulator and the throttle: the rate-limit hold passes in no time.
    let clock = Date.UTC(2026, 2, 1, 12);
    const now = (): number => clock;
    const sim: Simulator = await startSimulator({
      tokens: [TOKEN],
      rateLimit: 100,
      now,
      scenario: { repositories: [{ owner: 'acme', name: 'api', issues: [{ title: 'first' }, { title: 'second' }] }] },
    });
    closers.push(() => sim.close());
    const { url, metrics } = await serve();
    const client = new GitHubClient({
      baseUrl: sim.url,
      token: TOKEN,
      timeoutMs: 5_000,
      userAgent: 'autosolve/test',
      throttle: { minIntervalMs: 0, now, sleep: async (ms) => void (clock += ms) },
      telemetry: metrics.githubTelemetry(),
    });
    const signal = new AbortController().signal;

    await client.getRepository(REPO, signal);
    await assert.rejects(client.getRepository({ owner: 'acme', name: 'missing' }, signal));
    const first = await client.listIssues(REPO, { since: null, page: 1, etag: null }, signal);
    assert.equal(first.notModified, false);
    const second = await client.listIssues(REPO, { since: null, page: 1, etag: first.notModified ? null : first.etag }, signal);
    assert.equal(second.notModified, true);
    await client.createComment(REPO, 1, 'hello', signal);
    // The next response says 0 left: the request after it is held until the reset.
    const resetAt = Math.floor(clock / 1000) + 120;
    sim.setRateLimit(TOKEN, { remaining: 1, resetAt });
    await client.getRepository(REPO, signal);
    const expectedWaitMs = resetAt * 1000 + 1000 - clock;
    await client.getRepository(REPO, signal);

    const samples = await scrape(url);
    const seen = countBy(sim.requests, (r) => `${r.method} ${r.status}`);
    assert.deepEqual(seen.get('GET 304'), 1, 'the scenario produced one 304');
    const counted = new Map(
      samples.filter((s) => s.name === 'autosolve_github_requests_total').map((s) => [`${s.labels.method} ${s.labels.status}`, s.value]),
    );
    assert.deepEqual(counted, seen, 'github_requests_total{method,status} matches the simulator request log');
    assert.equal(valueOf(samples, 'autosolve_github_not_modified_total'), 1);
    const gets = sim.requests.filter((r) => r.method === 'GET').length;
    assert.equal(valueOf(samples, 'autosolve_github_not_modified_ratio'), 1 / gets);

    const budget = sim.rateLimitOf(TOKEN);
    assert.equal(valueOf(samples, 'autosolve_github_rate_limit_remaining'), budget.remaining);
    assert.equal(valueOf(samples, 'autosolve_github_rate_limit_limit'), 100);
    assert.equal(valueOf(samples, 'autosolve_github_rate_limit_reset_seconds'), budget.resetAt);
    assert.ok(budget.resetAt > resetAt, 'the budget refilled after the hold');

    const reason = { reason: 'primary-rate-limit' };
    assert.equal(valueOf(samples, 'autosolve_github_rate_limit_waits_total', reason), 1);
    assert.equal(valueOf(samples, 'autosolve_github_rate_limit_wait_seconds_total', reason), expectedWaitMs / 1000);
    assert.equal(client.stats().waitedMs, expectedWaitMs);

    const text = await (await fetch(`${url}/metrics`)).text();
    assert.ok(!text.includes(TOKEN), 'the token never reaches /metrics');
  });

  void it('counts scheduler passes, retries by classification and degraded retries from a real Scheduler', async () => {
    const { url, metrics } = await serve();
    const scheduler = new Scheduler({
      log: silentLog,
      retryBudgetMs: 60_000,
      baseline: { node: { initialMs: 1, maxMs: 2 }, service: { initialMs: 1, maxMs: 2 }, unknown: { initialMs: 1, maxMs: 2 } },
      observer: metrics.schedulerObserver(),
    });
    let pollerPasses = 0;
    const poller: WorkJob = {
      name: 'work:issue-poller:acme/api',
      resource: 'issue-poller',
      scope: 'repository',
      interval: 60_000,
      repository: REPO,
      run: async () => {
        if (++pollerPasses === 1) throw new ClassifiedError('node', 'connection reset');
      },
    };
    const summary = await scheduler.work([poller], new AbortController().signal, { once: true });
    assert.deepEqual(summary.failed, []);

    const stop = new AbortController();
    let dispatcherPasses = 0;
    const dispatcher: WorkJob = {
      name: 'work:dispatcher',
      resource: 'dispatcher',
      scope: 'global',
      interval: 60_000,
      run: async () => {
        if (++dispatcherPasses === 1) throw new Error('nobody knows this one');
        stop.abort();
      },
    };
    await scheduler.work([dispatcher], stop.signal, { once: false });

    const samples = await scrape(url);
    const passes = (resource: string, outcome: string) =>
      valueOf(samples, 'autosolve_scheduler_passes_total', { job_resource: resource, outcome });
    assert.equal(passes('issue-poller', 'error'), 1);
    assert.equal(passes('issue-poller', 'ok'), 1);
    assert.equal(passes('dispatcher', 'error'), 1);
    assert.equal(passes('dispatcher', 'ok'), 1);
    assert.equal(valueOf(samples, 'autosolve_scheduler_retries_total', { job_resource: 'issue-poller', classification: 'node' }), 1);
    assert.equal(valueOf(samples, 'autosolve_scheduler_retries_total', { job_resource: 'dispatcher', classification: 'unknown' }), 1);
    assert.equal(valueOf(samples, 'autosolve_scheduler_degraded_retries_total', { job_resource: 'dispatcher' }), 1);
    assert.equal(valueOf(samples, 'autosolve_scheduler_degraded_retries_total', { job_resource: 'issue-poller' }), undefined);
  });

  void it('reports polls, executor latency, comments, settled jobs and queue jobs by state', async () => {
    const setup = await serve();
    const { url, metrics } = setup;
    metrics.pollFinished('acme/api', 'changed');
    metrics.pollFinished('acme/api', 'not_modified');
    metrics.pollFinished('acme/api', 'not_modified');
    metrics.pollFinished('acme/web', 'error');
    const dispatch = metrics.dispatchObserver();
    dispatch.executorFinished?.({ repository: 'acme/api', durationMs: 300, ok: true });
    dispatch.executorFinished?.({ repository: 'acme/api', durationMs: 42_000, ok: true });
    dispatch.executorFinished?.({ repository: 'acme/web', durationMs: 1_200, ok: false });
    dispatch.commentPosted?.({ repository: 'acme/api', number: 1, url: 'https://github.com/acme/api/issues/1#issuecomment-1' });
    dispatch.commentPosted?.({ repository: 'acme/api', number: 2, url: 'https://github.com/acme/api/issues/2#issuecomment-2' });
    dispatch.jobSettled?.({ repository: 'acme/api', number: 1, outcome: 'answered' });

    const response = await fetch(`${url}/metrics`);
    const { samples, types } = parsePrometheusText(await response.text());
    assert.equal(valueOf(samples, 'autosolve_polls_total', { repository: 'acme/api', outcome: 'not_modified' }), 2);
    assert.equal(valueOf(samples, 'autosolve_polls_total', { repository: 'acme/api', outcome: 'changed' }), 1);
    assert.equal(valueOf(samples, 'autosolve_polls_total', { repository: 'acme/web', outcome: 'error' }), 1);
    assert.equal(types.get('autosolve_executor_duration_seconds'), 'histogram');
    assert.equal(valueOf(samples, 'autosolve_executor_duration_seconds_bucket', { le: '0.1', outcome: 'ok' }), 0);
    assert.equal(valueOf(samples, 'autosolve_executor_duration_seconds_bucket', { le: '0.5', outcome: 'ok' }), 1);
    assert.equal(valueOf(samples, 'autosolve_executor_duration_seconds_bucket', { le: '60', outcome: 'ok' }), 2);
    assert.equal(valueOf(samples, 'autosolve_executor_duration_seconds_bucket', { le: '600', outcome: 'ok' }), 2);
    assert.equal(valueOf(samples, 'autosolve_executor_duration_seconds_count', { outcome: 'ok' }), 2);
    assert.equal(valueOf(samples, 'autosolve_executor_duration_seconds_sum', { outcome: 'ok' }), 42.3);
    assert.equal(valueOf(samples, 'autosolve_executor_duration_seconds_count', { outcome: 'error' }), 1);
    assert.equal(valueOf(samples, 'autosolve_comments_posted_total', { repository: 'acme/api' }), 2);
    assert.equal(valueOf(samples, 'autosolve_queue_jobs_settled_total', { outcome: 'answered' }), 1);
    assert.deepEqual(
      ['pending', 'running', 'done', 'dead'].map((state) => valueOf(samples, 'autosolve_queue_jobs', { state })),
      [2, 1, 5, 1],
    );
    assert.ok(samples.some((s) => s.name === 'process_cpu_user_seconds_total'), 'default process metrics are there');

    // A failing queue read leaves queue_jobs out instead of failing the scrape or showing stale numbers.
    setup.queue = new Error('database is locked');
    const after = await scrape(url);
    assert.equal(after.filter((s) => s.name === 'autosolve_queue_jobs').length, 0);
    assert.equal(valueOf(after, 'autosolve_queue_jobs_collect_errors_total'), 1);
    assert.equal(setup.collectErrors.length, 1);
    assert.equal(valueOf(after, 'autosolve_polls_total', { repository: 'acme/api', outcome: 'changed' }), 1);
  });

  void it('keeps its own registry: two instances never count into each other', async () => {
    const a = await serve();
    const b = await serve();
    a.metrics.pollFinished('acme/api', 'changed');
    assert.equal(valueOf(await scrape(a.url), 'autosolve_polls_total', { repository: 'acme/api', outcome: 'changed' }), 1);
    assert.equal(valueOf(await scrape(b.url), 'autosolve_polls_total', { repository: 'acme/api', outcome: 'changed' }), undefined);
  });
});

void describe('HTTP endpoint', () => {
  void it('/healthz and /readyz follow the health callback, /readyz naming the reason', async () => {
    const setup = await serve();
    const { url } = setup;
    const get = async (path: string) => {
      const response = await fetch(`${url}${path}`);
      return { status: response.status, body: await response.text() };
    };
    Object.assign(setup.health, { alive: false, ready: false, detail: 'validating acme/api' });
    assert.equal((await get('/healthz')).status, 503);
    assert.deepEqual(await get('/readyz'), { status: 503, body: 'not ready: validating acme/api\n' });

    Object.assign(setup.health, { alive: true });
    assert.deepEqual(await get('/healthz'), { status: 200, body: 'ok\n' });
    assert.equal((await get('/readyz')).status, 503);

    Object.assign(setup.health, { ready: true });
    delete setup.health.detail;
    assert.deepEqual(await get('/readyz'), { status: 200, body: 'ready\n' });

    Object.assign(setup.health, { alive: false, ready: false });
    assert.deepEqual(await get('/readyz'), { status: 503, body: 'not ready: setup has not passed yet\n' });
    assert.equal((await get('/healthz')).status, 503);
  });

  void it('is read-only: other methods get 405, unknown paths 404, HEAD has no body', async () => {
    const { url } = await serve();
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const response = await fetch(`${url}/metrics`, { method });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get('allow'), 'GET, HEAD');
    }
    assert.equal((await fetch(`${url}/nope`)).status, 404);
    assert.equal((await fetch(`${url}/healthz/extra`)).status, 404);
    assert.equal((await fetch(`${url}/__proto__`)).status, 404);

    const head = await fetch(`${url}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.ok(Number(head.headers.get('content-length')) > 0);
    assert.equal(await head.text(), '');
  });

  void it('serves the dashboard page with a strict CSP and its data as JSON', async () => {
    const { url } = await serve();
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'.*script-src 'nonce-/);
    const html = await page.text();
    assert.ok(html.includes('acme/api'));
    assert.ok(html.includes('a &lt;b&gt;bold&lt;/b&gt; title'), 'the title is escaped');
    assert.ok(!html.includes('<b>bold</b>'));

    const status = await fetch(`${url}/api/status?cache=1`);
    assert.match(status.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await status.json(), snapshot);
  });

  void it("binds 127.0.0.1 when listen is only a port ('0' = a free one)", async () => {
    const { url } = await serve('0');
    const match = /^http:\/\/127\.0\.0\.1:(\d+)$/.exec(url);
    assert.ok(match, url);
    assert.notEqual(Number(match[1]), 0);
    assert.equal((await fetch(`${url}/healthz`)).status, 503);
  });

  void it('parses listen addresses and refuses bad ones or a taken port', async () => {
    assert.deepEqual(parseListen('9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListen('0.0.0.0:9464'), { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
    for (const bad of ['', 'localhost', ':9464', '127.0.0.1:', '127.0.0.1:65536', '1.2.3.4:80:80', 'http://127.0.0.1:1']) {
      assert.throws(() => parseListen(bad), /http\.listen must be PORT or HOST:PORT/, bad);
    }
    const { url } = await serve();
    const taken = url.replace('http://', '');
    await assert.rejects(
      serve(taken),
      new RegExp(`cannot listen on ${taken.replaceAll('.', '\\.')} \\(http\\.listen\\): EADDRINUSE`),
    );
  });

  void it('close() ends keep-alive connections and requests still in progress instead of waiting for them', async () => {
    let snapshotAsked!: () => void;
    const asked = new Promise<void>((resolve) => (snapshotAsked = resolve));
    let release!: (value: DashboardSnapshot) => void;
    const held = new Promise<DashboardSnapshot>((resolve) => (release = resolve));
    closers.push(async () => release(snapshot));
    const server = await serve('127.0.0.1:0', {
      snapshot: () => {
        snapshotAsked();
        return held;
      },
    });
    const { port } = new URL(server.url);

    const agent = new Agent({ keepAlive: true });
    closers.push(async () => agent.destroy());
    const keptAlive = await new Promise<Socket>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket as Socket));
      });
      req.on('error', reject);
      req.end();
    });
    // A request the server is still working on: server.close() alone would wait for it.
    const inProgress = fetch(`${server.url}/api/status`).then(
      () => 'answered',
      () => 'cut off',
    );
    await asked;

    const closed = new Promise<void>((resolve) => (keptAlive.closed ? resolve() : keptAlive.once('close', () => resolve())));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('close() did not finish within 3 s')), 3_000);
    });
    try {
      await Promise.race([Promise.all([server.close(), closed]), deadline]);
    } finally {
      clearTimeout(timer);
    }
    assert.equal(await inProgress, 'cut off');
    await server.close(); // idempotent
  });
});
