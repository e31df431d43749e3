/**
 * Rate limits in GitHub's time: holds and wait hints are read against the
 * `Date` header of the same response, so a local clock ten minutes ahead of
 * GitHub's or behind it neither sends requests into a spent window nor holds
 * for the skew. The simulator's clock is the throttle's virtual clock shifted
 * by the offset (SimulatorOptions.clockOffsetMs).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { failureKindOf, waitHintOf } from '../src/domain/failure.js';
import { GitHubClient, type GitHubTelemetry, type WaitReason } from '../src/infra/github/index.js';
import { type Simulator, startSimulator } from '../src/simulator/index.js';
import { type VirtualTime, virtualTime } from './support/virtual-time.js';

const TOKEN = 'ghp_clockSkewTestToken00000000000000000';
const REPO = { owner: 'acme', name: 'api' };
/** This machine's clock at the start of each test. */
const LOCAL_START = Date.UTC(2026, 0, 5, 12, 0, 0);
const TEN_MINUTES = 600_000;
const SKEWS = [
  { name: "GitHub's clock 10 minutes ahead of ours", offsetMs: TEN_MINUTES },
  { name: "GitHub's clock 10 minutes behind ours", offsetMs: -TEN_MINUTES },
];

let simulator: Simulator | undefined;

afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

async function skewed(offsetMs: number): Promise<{ sim: Simulator; clock: VirtualTime; gitHubNow: () => number }> {
  const clock = virtualTime(LOCAL_START);
  simulator = await startSimulator({
    tokens: [TOKEN],
    now: clock.now,
    clockOffsetMs: offsetMs,
    scenario: { repositories: [{ owner: 'acme', name: 'api', issues: [{ title: 'first' }] }] },
  });
  return { sim: simulator, clock, gitHubNow: () => clock.now() + offsetMs };
}

function clientFor(sim: Simulator, clock: VirtualTime, telemetry: GitHubTelemetry = {}): GitHubClient {
  return new GitHubClient({
    baseUrl: sim.url,
    token: TOKEN,
    timeoutMs: 10_000,
    userAgent: 'autosolve/test',
    throttle: { minIntervalMs: 0, now: clock.now, sleep: clock.sleep },
    telemetry,
    fetch: clock.fetch,
  });
}

const signal = (): AbortSignal => new AbortController().signal;

void describe('rate limits in GitHub time', () => {
  for (const skew of SKEWS) {
    void it(`holds for exactly the time to GitHub's reset, not into the window nor for the skew (${skew.name})`, async () => {
      const { sim, clock, gitHubNow } = await skewed(skew.offsetMs);
      const resetAt = Math.floor(gitHubNow() / 1000) + 600;
      sim.setRateLimit(TOKEN, { remaining: 1, resetAt });
      const waits: Array<{ reason: WaitReason; waitMs: number }> = [];
      const resets: number[] = [];
      const client = clientFor(sim, clock, { onWait: (info) => waits.push(info), onRateLimit: (info) => resets.push(info.resetAt) });

      await client.getRepository(REPO, signal()); // spends the last unit: the response says remaining 0
      await Promise.all([1, 2].map(() => client.getRepository(REPO, signal())));

      assert.deepEqual(
        sim.requests.map((r) => r.status),
        [200, 200, 200],
        'no request was sent into the spent window and refused',
      );
      for (const request of sim.requests.slice(1)) {
        assert.ok(request.startedAt >= resetAt * 1000, `sent ${resetAt * 1000 - request.startedAt} ms before GitHub's reset`);
      }
      assert.equal(waits.length, 1);
      const held = waits[0]?.waitMs ?? 0;
      assert.ok(held >= 600_000 && held <= 602_000, `held ${held} ms for a reset 600 s away on GitHub's clock`);
      assert.equal(resets[0], Math.floor(LOCAL_START / 1000) + 600, "the reset is reported on this machine's clock");
    });

    void it(`hints the wait of a 403 for a spent budget on GitHub's clock (${skew.name})`, async () => {
      const { sim, clock, gitHubNow } = await skewed(skew.offsetMs);
      sim.setRateLimit(TOKEN, { remaining: 0, resetAt: Math.floor(gitHubNow() / 1000) + 120 });
      const client = clientFor(sim, clock);

      const failure = await client.getRepository(REPO, signal()).then(() => undefined, (error: unknown) => error);

      assert.equal(failureKindOf(failure), 'service');
      assert.equal(waitHintOf(failure), 120_000);
    });

    void it(`reads a retry-after given as a date against GitHub's clock (${skew.name})`, async () => {
      const { sim, clock, gitHubNow } = await skewed(skew.offsetMs);
      const retryAt = new Date(gitHubNow() + 30_000).toUTCString();
      sim.injectFault({ kind: 'status', status: 429, headers: { 'retry-after': retryAt }, body: { message: 'slow down' } });
      const waits: number[] = [];
      const client = clientFor(sim, clock, { onWait: (info) => waits.push(info.waitMs) });

      const failure = await client.getRepository(REPO, signal()).then(() => undefined, (error: unknown) => error);
      assert.equal(waitHintOf(failure), 30_000);
      await client.getRepository(REPO, signal());

      assert.deepEqual(waits, [30_000]);
      const [first, second] = sim.requests;
      assert.equal((second?.startedAt ?? 0) - (first?.startedAt ?? 0), 30_000);
    });
  }

  void it('dates every simulator response on its own, shifted clock', async () => {
    const { sim, gitHubNow } = await skewed(-TEN_MINUTES);
    const response = await fetch(`${sim.url}/repos/acme/api`, { headers: { authorization: `token ${TOKEN}` } });
    await response.arrayBuffer();
    assert.equal(response.headers.get('date'), new Date(gitHubNow()).toUTCString());
    assert.equal(sim.requests[0]?.startedAt, gitHubNow());
  });
});
