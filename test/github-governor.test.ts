/**
 * The budget governor: REST and GraphQL points, GitHub's server time estimated
 * from response times, and primary pacing, all on a virtual clock. GraphQL
 * budgets are driven through the throttle's own door (admit, observe,
 * release), as the request hook drives it; primary pacing through the client
 * against the simulator, whose budget answers every request.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { GitHubClient, RequestThrottle, type ThrottleOptions, type WaitReason } from '../src/infra/github/index.js';
import { type Simulator, startSimulator } from '../src/simulator/index.js';
import { timerClock } from './support/timer-clock.js';

const START = Date.UTC(2026, 0, 5, 12, 0, 0);
const TOKEN = 'ghp_governorTestToken0000000000000000000';
const REPO = { owner: 'acme', name: 'api' };
const GET = { method: 'GET', url: '/repos/{owner}/{repo}' };
const POST = { method: 'POST', url: '/repos/{owner}/{repo}/issues/{issue_number}/comments' };
const QUERY = { method: 'POST', url: '/graphql', query: 'query($owner: String!) { repository(owner: $owner, name: "x") { id } }' };
const MUTATION = { method: 'POST', url: '/graphql', query: '# a comment\nmutation { addComment(input: {subjectId: "x", body: "query"}) { clientMutationId } }' };

function governed(options: Partial<ThrottleOptions>, waits: Array<{ reason: WaitReason; waitMs: number }> = []) {
  const clock = timerClock(START);
  const throttle = new RequestThrottle({ minIntervalMs: 0, now: clock.now, sleep: clock.sleep, ...options }, { onWait: (info) => waits.push(info) });
  /** Admits each request, notes when it started relative to START and answers it at once. */
  const send = async (request: { method: string; url: string; query?: string }): Promise<number> => {
    const release = await throttle.admit(request);
    const at = clock.now() - START;
    release();
    return at;
  };
  return { clock, throttle, send };
}

/** Lets the requests queued before this one reach the throttle first. */
async function delayTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

let simulator: Simulator | undefined;
afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

void describe('GitHub budget governor', () => {
  void it('spreads REST points evenly over the minute, a write costing five', async () => {
    const waits: Array<{ reason: WaitReason; waitMs: number }> = [];
    const { throttle, send } = governed({ pointsPerMinute: 60, writeMinIntervalMs: 0 }, waits);

    const reads = await Promise.all([GET, GET, GET, GET].map(send));
    assert.deepEqual(reads, [0, 1000, 2000, 3000], 'one point a second, evenly, not a burst then a hold');
    const write = await send(POST);
    const after = await send(GET);
    assert.equal(write, 4000);
    assert.equal(after - write, 5000, 'a write spends five seconds of a 60-point minute');
    assert.ok(waits.every((wait) => wait.reason === 'rest-points'));
    assert.deepEqual(throttle.budget().restPoints, { limit: 60, used: 10 });
  });

  void it('never lets more points than the limit into any minute', async () => {
    const { send } = governed({ pointsPerMinute: 12, writeMinIntervalMs: 0 });
    const starts: Array<{ at: number; points: number }> = [];
    for (const request of [POST, GET, POST, GET, GET, POST, GET, POST, GET, GET]) {
      starts.push({ at: await send(request), points: request === POST ? 5 : 1 });
    }
    for (const { at } of starts) {
      const inMinute = starts.filter((start) => start.at > at - 60_000 && start.at <= at).reduce((sum, start) => sum + start.points, 0);
      assert.ok(inMinute <= 12, `${inMinute} points in the minute before ${at}`);
    }
  });

  void it('paces GraphQL points apart from REST: a held query never holds a REST read', async () => {
    const waits: Array<{ reason: WaitReason; waitMs: number }> = [];
    const { throttle, send } = governed({ pointsPerMinute: 60, graphqlPointsPerMinute: 6 }, waits);

    const [queries, reads] = await Promise.all([Promise.all([QUERY, QUERY, QUERY, MUTATION, QUERY].map(async (request, i) => { await delayTurns(i); return send(request); })), Promise.all([GET, GET, GET].map(send))]);
    assert.deepEqual(reads, [0, 1000, 2000]);
    // A query is one point of six a minute, a mutation five: it waits for two queries to leave the minute, and the next query waits its five shares.
    assert.deepEqual(queries, [0, 10_000, 20_000, 70_000, 120_000]);
    assert.ok(waits.some((wait) => wait.reason === 'graphql-points'));
    assert.deepEqual(throttle.budget().restPoints, { limit: 60, used: 0 }, 'the REST reads left the minute long ago');
    assert.deepEqual(throttle.budget().graphqlPoints, { limit: 6, used: 6 }, 'the mutation (at 70 s) and the last query (at 120 s) are in the minute');
  });

  void it('does not write-pace POST /graphql: a query creates no content', async () => {
    const waits: Array<{ reason: WaitReason; waitMs: number }> = [];
    const { send } = governed({ writeMinIntervalMs: 60_000, writesPerMinute: 1 }, waits);

    const starts = await Promise.all([POST, MUTATION, QUERY, QUERY, POST].map(send));
    assert.deepEqual(starts, [0, 0, 0, 0, 60_000], 'only the second comment waits for the write budget');
    assert.deepEqual(waits.map((wait) => wait.reason), ['write-pacing']);
  });

  void it('holds requests while the estimated server time of the minute is spent, running requests counted as they run', async () => {
    const waits: Array<{ reason: WaitReason; waitMs: number }> = [];
    const { clock, throttle } = governed({ cpuMsPerMinute: 2000 }, waits);

    const running = await throttle.admit(GET);
    clock.advance(3000); // still running after three seconds: GitHub is spending time on it
    assert.equal(throttle.budget().cpuMs.used, 3000);
    assert.equal(throttle.budget().inFlight, 1);
    const next = throttle.admit(GET);
    await Promise.resolve();
    running(); // answered at 3000, once the next one is already waiting
    const release = await next;
    const startedAt = clock.now() - START;
    release();

    assert.equal(waits[0]?.reason, 'cpu-time');
    assert.ok(startedAt >= 61_000, `started at ${startedAt}, before the 3 s of the first request left the minute`);
    assert.equal(throttle.budget().averageResponseMs.rest, 1500);
  });

  void it('keeps GraphQL to two thirds of the server time while REST goes on', async () => {
    const waits: Array<{ reason: WaitReason; waitMs: number }> = [];
    const { clock, throttle } = governed({ cpuMsPerMinute: 3000 }, waits);
    const timed = async (request: { method: string; url: string; query?: string }, ms: number): Promise<number> => {
      const release = await throttle.admit(request);
      const at = clock.now() - START;
      clock.advance(ms);
      release();
      return at;
    };

    assert.equal(await timed(QUERY, 1000), 0);
    assert.equal(await timed(QUERY, 1000), 1000);
    assert.equal(await timed(GET, 200), 2000, 'REST fits in the third GraphQL may not use');
    const third = await timed(QUERY, 1000);
    assert.ok(third >= 61_000, `the third second of GraphQL started at ${third}`);
    assert.equal(waits[0]?.reason, 'cpu-time');
    assert.equal(throttle.budget().graphqlCpuMs.limit, 2000);
  });

  void it('spreads the primary budget evenly until the reset once below half, keeping a reserve for writes', async () => {
    const clock = timerClock(START);
    simulator = await startSimulator({ tokens: [TOKEN], now: clock.now, scenario: { repositories: [{ owner: 'acme', name: 'api', issues: [{ title: 'first' }] }] } });
    const resetAt = Math.floor(START / 1000) + 3600;
    simulator.setRateLimit(TOKEN, { remaining: 2050, resetAt });
    const waits: WaitReason[] = [];
    const client = new GitHubClient({
      baseUrl: simulator.url,
      token: TOKEN,
      timeoutMs: 10_000,
      userAgent: 'autosolve/test',
      fetch: clock.fetch,
      throttle: { minIntervalMs: 0, now: clock.now, sleep: clock.sleep, primaryPacing: true },
      telemetry: { onWait: (info) => waits.push(info.reason) },
    });
    const signal = new AbortController().signal;

    await client.getRepository(REPO, signal); // remaining 2049, below half of 5000
    await Promise.all(Array.from({ length: 6 }, () => client.getRepository(REPO, signal)));
    const starts = simulator.requests.map((request) => request.startedAt);
    const gaps = starts.slice(1).map((at, i) => at - (starts[i] ?? 0));
    // 3,600 s over 2,049 left minus a reserve of 50 for writes: about 1.8 s apart, every one of them.
    for (const gap of gaps) assert.ok(gap >= 1790 && gap <= 1810, `gaps ${gaps.join(', ')}`);
    assert.ok(waits.every((reason) => reason === 'primary-pacing'));
    const primary = client.budget().primary.find((budget) => budget.resource === 'core');
    assert.equal(primary?.remaining, 2043);
    assert.equal(primary?.pacing, true);

    simulator.setRateLimit(TOKEN, { remaining: 40, resetAt });
    await client.getRepository(REPO, signal); // says 39 left: inside the reserve
    const sent = simulator.requests.length;
    const [read, write] = await Promise.all([client.getRepository(REPO, signal).then(() => clock.now()), client.createComment(REPO, 1, 'reserved', signal).then(() => clock.now())]);
    const [readRequest, writeRequest] = [simulator.requests.slice(sent).find((r) => r.method === 'GET'), simulator.requests.slice(sent).find((r) => r.method === 'POST')];
    assert.ok((writeRequest?.startedAt ?? Infinity) < resetAt * 1000, 'the write used the reserve');
    assert.ok((readRequest?.startedAt ?? 0) >= resetAt * 1000, 'the read waited for the reset');
    assert.ok(write <= read);
  });
});
