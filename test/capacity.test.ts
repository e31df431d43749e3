import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeLatency, projectCapacity, sweepQueryCost, type CapacityInput } from '../src/domain/fleet/capacity.js';

const BUDGET = { restPointsPerMinute: 600, graphqlPointsPerMinute: 1000, cpuMsPerMinute: 60_000, minIntervalMs: 0, graphqlPointsPerHour: 5000 };

function input(overrides: Partial<CapacityInput> = {}): CapacityInput {
  return {
    members: { walk: 0, stream: 0, sweep: 0 },
    streams: 0,
    parseIntervalMs: 60_000,
    reconcileIntervalMs: 1_800_000,
    sweepBatch: 40,
    discoveryPages: 0,
    discoveryIntervalMs: 3_600_000,
    budget: BUDGET,
    measured: { restMs: 300, graphqlMs: 1000 },
    ...overrides,
  };
}

void describe('capacity projection', () => {
  void it('keeps a small fleet on the configured interval', () => {
    const capacity = projectCapacity(input({ members: { walk: 3, stream: 0, sweep: 0 } }));
    assert.equal(capacity.paths.walk.intervalMs, 60_000);
    assert.equal(capacity.paths.walk.boundBy, 'interval');
    assert.equal(capacity.paths.walk.latencyMs, 0.95 * 60_000 + 300);
    // 3 walks a minute, all 304s when idle: nothing from the primary budget.
    assert.equal(capacity.idlePerHour.restRequests, 180);
    assert.equal(capacity.idlePerHour.restPrimary, 0);
  });

  void it('stretches the walk interval when the walks do not fit, naming the bound', () => {
    // 48 s of CPU a minute at 300 ms a walk: 160 walks a minute.
    const capacity = projectCapacity(input({ members: { walk: 1000, stream: 0, sweep: 0 } }));
    assert.equal(capacity.walkFits, 160);
    assert.equal(capacity.paths.walk.boundBy, 'cpu-time');
    assert.equal(capacity.paths.walk.intervalMs, Math.ceil((1000 / 160) * 60_000));
    // With fast answers the REST points bind instead: 480 a minute.
    const fast = projectCapacity(input({ members: { walk: 1000, stream: 0, sweep: 0 }, measured: { restMs: 50, graphqlMs: 1000 } }));
    assert.equal(fast.paths.walk.boundBy, 'rest-points');
    assert.equal(fast.paths.walk.intervalMs, Math.ceil((1000 / 480) * 60_000));
  });

  void it('counts the comment listing of each walk when follow-ups are on: half the walks fit, twice the idle requests', () => {
    const one = projectCapacity(input({ members: { walk: 1000, stream: 0, sweep: 0 } }));
    const two = projectCapacity(input({ members: { walk: 1000, stream: 0, sweep: 0 }, requestsPerWalk: 2 }));
    assert.equal(two.walkFits, 80);
    assert.equal(two.paths.walk.boundBy, 'cpu-time');
    assert.equal(two.paths.walk.intervalMs, Math.ceil((2000 / 160) * 60_000));
    const small = projectCapacity(input({ members: { walk: 3, stream: 0, sweep: 0 }, requestsPerWalk: 2 }));
    assert.equal(small.paths.walk.intervalMs, 60_000, 'a small fleet keeps its interval');
    assert.equal(small.idlePerHour.restRequests, 360);
    assert.ok(two.paths.walk.intervalMs > one.paths.walk.intervalMs);
  });

  void it('honours minInterval as a bound', () => {
    const capacity = projectCapacity(input({ members: { walk: 120, stream: 0, sweep: 0 }, budget: { ...BUDGET, minIntervalMs: 1000 } }));
    assert.equal(capacity.paths.walk.boundBy, 'min-interval');
    assert.equal(capacity.paths.walk.intervalMs, 120_000);
  });

  void it('keeps ten thousand streamed repositories at the configured interval, with a cheap idle hour', () => {
    const capacity = projectCapacity(input({ members: { walk: 0, stream: 10_000, sweep: 0 }, streams: 1, discoveryPages: 100 }));
    assert.equal(capacity.paths.stream.boundBy, 'interval');
    assert.ok(capacity.paths.stream.latencyMs <= 120_000);
    // Reconciliation: 250 queries every 30 min, one point each.
    assert.equal(capacity.idlePerHour.graphqlPoints, 500);
    // Discovery's 100 pages an hour are the only primary cost: 2 % of 5,000.
    assert.equal(capacity.idlePerHour.restPrimary, 100);
  });

  void it('bounds a large sweep path by GraphQL CPU time and says so', () => {
    const capacity = projectCapacity(input({ members: { walk: 0, stream: 0, sweep: 10_000 } }));
    assert.equal(capacity.paths.sweep.boundBy, 'cpu-time');
    // 250 queries at 1 s against 32 s of GraphQL time a minute.
    assert.equal(capacity.paths.sweep.intervalMs, Math.ceil((250 / 32) * 60_000));
    assert.match(describeLatency(capacity.paths.sweep.latencyMs), /min$/);
  });

  void it('prices a sweep query as GitHub does', () => {
    assert.equal(sweepQueryCost(1), 1);
    assert.equal(sweepQueryCost(50), 1);
    assert.equal(sweepQueryCost(60), 1);
    assert.equal(sweepQueryCost(75), 2);
    assert.equal(sweepQueryCost(100), 2);
  });
});
