/**
 * The transport-level throttle, observed from the simulator's side: when each
 * request actually arrived. Minutes of GitHub time pass in microseconds on a
 * virtual clock shared by the throttle and the simulator (test/support/
 * virtual-time.ts); the two cases that need concurrency in real time use short
 * real waits and assert with margins.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { afterEach, describe, it } from 'node:test';
import { failureKindOf, waitHintOf } from '../src/domain/failure.js';
import { GitHubClient, type GitHubClientOptions, type ThrottleOptions, type WaitReason } from '../src/infra/github/index.js';
import { type Simulator, startSimulator } from '../src/simulator/index.js';
import { type VirtualTime, virtualTime as virtualTimeFrom } from './support/virtual-time.js';
import { assertCutShort } from './support/timing.js';

const TOKEN = 'ghp_throttleTestToken000000000000000000';
const REPO = { owner: 'acme', name: 'api' };
const START = Date.UTC(2026, 0, 5, 12, 0, 0);
const virtualTime = (): VirtualTime => virtualTimeFrom(START);

function timing(clock: VirtualTime): Pick<ThrottleOptions, 'now' | 'sleep'> {
  return { now: clock.now, sleep: clock.sleep };
}

let simulator: Simulator | undefined;

afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

async function start(now?: () => number): Promise<Simulator> {
  simulator = await startSimulator({
    tokens: [TOKEN],
    ...(now === undefined ? {} : { now }),
    scenario: { repositories: [{ owner: 'acme', name: 'api', issues: [{ title: 'first' }] }] },
  });
  return simulator;
}

function clientFor(
  sim: Simulator,
  throttle: Partial<ThrottleOptions>,
  extra: Partial<GitHubClientOptions> = {},
): GitHubClient {
  return new GitHubClient({
    baseUrl: sim.url,
    token: TOKEN,
    timeoutMs: 10_000,
    userAgent: 'autosolve/test',
    throttle: { minIntervalMs: 0, ...throttle },
    ...extra,
  });
}

function startsOf(sim: Simulator, method?: string): number[] {
  return sim.requests.filter((request) => method === undefined || request.method === method).map((r) => r.startedAt);
}

const signal = (): AbortSignal => new AbortController().signal;

void describe('GitHub throttle', () => {
  void it('holds every request while the primary budget is spent, until the reset', async () => {
    const clock = virtualTime();
    const sim = await start(clock.now);
    const resetAt = Math.floor(START / 1000) + 600;
    sim.setRateLimit(TOKEN, { remaining: 1, resetAt });
    const waits: Array<{ reason: WaitReason; waitMs: number }> = [];
    const client = clientFor(sim, timing(clock), { fetch: clock.fetch, telemetry: { onWait: (info) => waits.push(info) } });

    await client.getRepository(REPO, signal()); // spends the last unit: the response says remaining 0
    const later = await Promise.all([1, 2, 3].map(() => client.getRepository(REPO, signal())));

    assert.equal(later.length, 3);
    const starts = startsOf(sim);
    assert.equal(starts.length, 4, 'no request was sent and refused while the budget was spent');
    for (const startedAt of starts.slice(1)) assert.ok(startedAt >= resetAt * 1000, `sent at ${startedAt}, before the reset`);
    assert.deepEqual(
      sim.requests.map((r) => r.status),
      [200, 200, 200, 200],
    );
    assert.equal(waits[0]?.reason, 'primary-rate-limit');
    assert.ok((waits[0]?.waitMs ?? 0) >= 600_000);
    assert.equal(client.stats().waits, 1);
    assert.ok(client.stats().waitedMs >= 600_000);
  });

  void it('after a 403 for a spent budget, holds later requests until the reset and hints the wait', async () => {
    const clock = virtualTime();
    const sim = await start(clock.now);
    const resetAt = Math.floor(START / 1000) + 120;
    sim.setRateLimit(TOKEN, { remaining: 0, resetAt });
    const client = clientFor(sim, timing(clock), { fetch: clock.fetch });

    const failure = await client.getRepository(REPO, signal()).then(() => undefined, (error: unknown) => error);
    assert.equal(failureKindOf(failure), 'service');
    assert.equal(waitHintOf(failure), 120_000);

    await client.getRepository(REPO, signal());
    const [, second] = sim.requests;
    assert.equal(second?.status, 200);
    assert.ok((second?.startedAt ?? 0) >= resetAt * 1000);
  });

  void it('holds every later request for retry-after after a secondary limit, without retrying', async () => {
    const clock = virtualTime();
    const sim = await start(clock.now);
    sim.injectFault({ kind: 'secondary-rate-limit', retryAfterSeconds: 30 });
    const waits: WaitReason[] = [];
    const client = clientFor(sim, timing(clock), { fetch: clock.fetch, telemetry: { onWait: (info) => waits.push(info.reason) } });

    const failure = await client.getRepository(REPO, signal()).then(() => undefined, (error: unknown) => error);
    assert.equal(failureKindOf(failure), 'service');
    assert.equal(waitHintOf(failure), 30_000);
    await Promise.all([client.getRepository(REPO, signal()), client.listIssues(REPO, { since: null, page: 1, etag: null }, signal())]);

    const [first, ...rest] = sim.requests;
    assert.equal(sim.requests.length, 3, 'the failed request was not retried');
    for (const request of rest) assert.ok(request.startedAt >= (first?.startedAt ?? 0) + 30_000);
    assert.deepEqual(waits, ['retry-after']);
  });

  void it('holds for 60 s after a secondary limit that gives no retry-after', async () => {
    const clock = virtualTime();
    const sim = await start(clock.now);
    sim.injectFault({ kind: 'secondary-rate-limit', status: 429 });
    const waits: WaitReason[] = [];
    const client = clientFor(sim, timing(clock), { fetch: clock.fetch, telemetry: { onWait: (info) => waits.push(info.reason) } });

    const failure = await client.getRepository(REPO, signal()).then(() => undefined, (error: unknown) => error);
    assert.equal(failureKindOf(failure), 'service');
    assert.equal(waitHintOf(failure), 60_000);
    await client.getRepository(REPO, signal());

    const [first, second] = sim.requests;
    assert.equal((second?.startedAt ?? 0) - (first?.startedAt ?? 0), 60_000);
    assert.deepEqual(waits, ['secondary-rate-limit']);
  });

  void it('spaces request starts by minIntervalMs', async () => {
    const clock = virtualTime();
    const sim = await start(clock.now);
    const client = clientFor(sim, { ...timing(clock), minIntervalMs: 1000 }, { fetch: clock.fetch });

    await Promise.all([1, 2, 3, 4].map(() => client.getRepository(REPO, signal())));

    const starts = startsOf(sim);
    assert.deepEqual(
      starts.map((startedAt) => startedAt - (starts[0] ?? 0)),
      [0, 1000, 2000, 3000],
    );
    assert.equal(client.stats().waits, 0, 'plain pacing is not a rate-limit wait');
  });

  void it('keeps writes under the per-minute and per-hour caps', async () => {
    const clock = virtualTime();
    const sim = await start(clock.now);
    const client = clientFor(
      sim,
      { ...timing(clock), writeMinIntervalMs: 0, writesPerMinute: 3, writesPerHour: 5 },
      { fetch: clock.fetch },
    );

    await Promise.all([1, 2, 3, 4, 5, 6].map((n) => client.createComment(REPO, 1, `comment ${n}`, signal())));

    const starts = startsOf(sim, 'POST').map((startedAt) => startedAt - START);
    assert.equal(starts.length, 6);
    assert.deepEqual(starts.slice(0, 3), [0, 0, 0]);
    assert.equal(starts[3], 60_000, 'the fourth write waits for the first to leave the minute');
    assert.equal(starts[4], 60_000);
    assert.equal(starts[5], 3_600_000, 'the sixth write waits for the first to leave the hour');
    assert.equal(sim.comments('acme', 'api', 1).length, 6);
  });

  void it('paces writes apart while reads keep flowing', async () => {
    const sim = await start();
    const gap = 400;
    // When each request left the throttle for the network: arrival times at
    // the simulator would add the latency jitter of a loaded machine.
    const sent: Array<{ method: string; at: number }> = [];
    const recordingFetch: typeof fetch = (input, init) => {
      sent.push({ method: init?.method ?? 'GET', at: Date.now() });
      return fetch(input, init);
    };
    const client = clientFor(sim, { writeMinIntervalMs: gap, maxConcurrent: 8 }, { fetch: recordingFetch });

    const writes = [1, 2, 3].map((n) => client.createComment(REPO, 1, `comment ${n}`, signal()));
    const reads = Array.from({ length: 20 }, () => client.getRepository(REPO, signal()));
    await Promise.all([...writes, ...reads]);

    const writeStarts = sent.filter((r) => r.method === 'POST').map((r) => r.at);
    const readStarts = sent.filter((r) => r.method === 'GET').map((r) => r.at);
    assert.equal(writeStarts.length, 3);
    assert.equal(readStarts.length, 20);
    assert.equal(startsOf(sim, 'POST').length, 3);
    for (let i = 1; i < writeStarts.length; i++) {
      const spacing = (writeStarts[i] ?? 0) - (writeStarts[i - 1] ?? 0);
      assert.ok(spacing >= gap - 25, `writes ${spacing} ms apart, want ${gap}`);
    }
    assert.ok(Math.max(...readStarts) < (writeStarts[1] ?? 0), 'reads did not queue behind the waiting writes');
  });

  void it('never has more than maxConcurrent requests in flight', async () => {
    const sim = await start();
    sim.injectFault({ kind: 'delay', ms: 150, times: 9, match: { path: '/repos/acme/api' } });
    const shared = new AbortController().signal; // like the daemon's one shutdown signal
    let inFlight = 0;
    let most = 0;
    let mostListeners = 0;
    const countingFetch: typeof fetch = async (input, init) => {
      inFlight++;
      most = Math.max(most, inFlight);
      mostListeners = Math.max(mostListeners, getEventListeners(shared, 'abort').length);
      try {
        return await fetch(input, init);
      } finally {
        inFlight--;
      }
    };
    const client = clientFor(sim, { maxConcurrent: 3 }, { fetch: countingFetch });

    const results = await Promise.all(Array.from({ length: 9 }, () => client.getRepository(REPO, shared)));

    assert.equal(results.length, 9);
    assert.equal(most, 3);
    assert.equal(mostListeners, 1, 'queued requests share one listener on the caller signal');
    assert.equal(getEventListeners(shared, 'abort').length, 0, 'no listener left behind');
    assert.equal(client.stats().requests, 9);
  });

  void it('lets the caller abort a request the throttle is holding', async () => {
    const sim = await start();
    const holdSeconds = 3600;
    sim.injectFault({ kind: 'secondary-rate-limit', retryAfterSeconds: holdSeconds });
    const controller = new AbortController();
    // Abort once the held request is asleep in the throttle, not before it gets there.
    const client = clientFor(sim, {}, { telemetry: { onWait: () => setImmediate(() => controller.abort()) } });
    await client.getRepository(REPO, signal()).catch(() => undefined);

    const startedAt = Date.now();
    await assert.rejects(client.getRepository(REPO, controller.signal), { name: 'AbortError' });
    assertCutShort(Date.now() - startedAt, holdSeconds * 1000, 'the abort ends the hold');
    assert.equal(sim.requests.length, 1, 'the held request was never sent');
  });

  void it('reports responses, 304s and the rate limit to telemetry and stats', async () => {
    const sim = await start();
    const responses: Array<{ route: string; status: number; notModified: boolean }> = [];
    const limits: Array<{ limit: number; remaining: number; resource: string }> = [];
    const client = clientFor(
      sim,
      {},
      {
        telemetry: {
          onResponse: ({ route, status, notModified }) => responses.push({ route, status, notModified }),
          onRateLimit: ({ limit, remaining, resource }) => limits.push({ limit, remaining, resource }),
        },
      },
    );

    const first = await client.listIssues(REPO, { since: null, page: 1, etag: null }, signal());
    assert.equal(first.notModified, false);
    const etag = first.notModified ? null : first.etag;
    const second = await client.listIssues(REPO, { since: null, page: 1, etag }, signal());
    assert.equal(second.notModified, true);

    assert.deepEqual(responses, [
      { route: 'GET /repos/{owner}/{repo}/issues', status: 200, notModified: false },
      { route: 'GET /repos/{owner}/{repo}/issues', status: 304, notModified: true },
    ]);
    const budget = sim.rateLimitOf(TOKEN);
    assert.deepEqual(limits.at(-1), { limit: budget.limit, remaining: budget.remaining, resource: 'core' });
    assert.deepEqual(client.stats(), { requests: 2, notModified: 1, waits: 0, waitedMs: 0 });
  });
});
