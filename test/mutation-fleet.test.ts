/**
 * The fleet's pure decisions at their boundaries: which path a member takes
 * (src/domain/fleet/paths.ts), which work units a daemon takes and gives up
 * (lease-share.ts), when a member is swept (sweep-schedule.ts) and what the
 * budgets allow (capacity.ts). Written for what a mutation run found untested
 * (docs/mutation-testing.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeLatency, projectCapacity, type CapacityInput } from '../src/domain/fleet/capacity.js';
import { choosePaths, type PathPolicy } from '../src/domain/fleet/paths.js';
import { decideShare, DISCOVERY_UNIT, repositoryOfUnit, repositoryUnit, type UnitLease } from '../src/domain/fleet/lease-share.js';
import { DAY_MS, instant, jitter, pickDue, quietFactor, sweepInterval, WEEK_MS } from '../src/domain/fleet/sweep-schedule.js';

describe('choosePaths: the reasons status shows', () => {
  const members = [
    { repositoryId: 1, owner: 'Acme' },
    { repositoryId: 2, owner: 'solo' },
    { repositoryId: 3, owner: 'solo' },
    { repositoryId: 4, owner: 'other' },
  ];
  const choose = (policy: Partial<PathPolicy>): Array<[number, string, string]> =>
    [...choosePaths(members, { mode: 'auto', streamedOrganizations: new Set(['acme']), walkCapacity: 10, ...policy })].map(([id, choice]) => [
      id,
      choice.path,
      choice.reason,
    ]);

  it('a forced walk or sweep applies to everyone, streamed organisations included', () => {
    const walk = 'walked every parseInterval (github.fleet.detection: walk)';
    assert.deepEqual(choose({ mode: 'walk' }), [1, 2, 3, 4].map((id) => [id, 'walk', walk]));
    const sweep = 'swept every parseInterval, walked when changed (github.fleet.detection: sweep)';
    assert.deepEqual(choose({ mode: 'sweep' }), [1, 2, 3, 4].map((id) => [id, 'sweep', sweep]));
  });

  it('names the streamed organisation in lower case, and the count and whole budget of the rest', () => {
    const stream = 'found by the issue stream of organisation acme, reconciled by sweeps';
    const fit = (n: number): string => `walked every parseInterval: the 3 repositories outside a streamed organisation fit the REST budget (${n})`;
    const exceed = (n: number): string =>
      `swept, walked when changed: the 3 repositories outside a streamed organisation exceed the ${n} the REST budget can walk every parseInterval`;
    assert.deepEqual(choose({ walkCapacity: 3.9 }), [[1, 'stream', stream], ...[2, 3, 4].map((id) => [id, 'walk', fit(3)])]);
    assert.deepEqual(choose({ walkCapacity: 2.9 }), [[1, 'stream', stream], ...[2, 3, 4].map((id) => [id, 'sweep', exceed(2)])]);
    assert.deepEqual(choose({ walkCapacity: -5 }).slice(1), [2, 3, 4].map((id) => [id, 'sweep', exceed(0)]));
  });

  it('detection: stream sweeps the members no stream covers, and streams the others', () => {
    const none = 'swept (github.fleet.detection: stream, but its owner is not a configured organisation with a working issue stream)';
    assert.deepEqual(choose({ mode: 'stream', walkCapacity: 100 }).map(([id, path, reason]) => [id, path, id === 1 ? '' : reason]), [
      [1, 'stream', ''],
      ...[2, 3, 4].map((id) => [id, 'sweep', none]),
    ]);
  });
});

const TTL = 15_000;
const NOW = 1_000_000;
const repos = (count: number): string[] => Array.from({ length: count }, (_, i) => repositoryUnit(i + 1));
const held = (unit: string, owner: string): UnitLease => ({ unit, owner, expiresAt: NOW + TTL });
const free = (unit: string, since = NOW): UnitLease => ({ unit, owner: null, expiresAt: since });

describe('decideShare at its boundaries', () => {
  it('names units as stored rows already do, and reads back only a whole repository id', () => {
    assert.equal(DISCOVERY_UNIT, 'discovery');
    assert.equal(repositoryOfUnit('repo:7'), 7);
    assert.equal(repositoryOfUnit('repo-12345'), undefined);
    assert.equal(repositoryOfUnit('repo:abc'), undefined);
    assert.equal(repositoryOfUnit('repo:1.5'), undefined);
    assert.equal(repositoryOfUnit('xrepo:7'), undefined);
  });

  it('a lease that runs out exactly now is orphaned: taken beyond the share', () => {
    const [u1, u2, u3, u4] = repos(4);
    const leases = [held(u1!, 'a'), held(u2!, 'a'), { unit: u3!, owner: 'b', expiresAt: NOW }, held(u4!, 'b')];
    assert.deepEqual(decideShare({ leases, live: ['a', 'b'], self: 'a', now: NOW, ttlMs: TTL }), { take: [u3!], release: [] });
    const running = leases.map((lease) => (lease.unit === u3 ? { ...lease, expiresAt: NOW + 1 } : lease));
    assert.deepEqual(decideShare({ leases: running, live: ['a', 'b'], self: 'a', now: NOW, ttlMs: TTL }), { take: [], release: [] });
  });

  it('a unit free for exactly a TTL, or never set, is orphaned; one free a moment less is left to its share', () => {
    const [u1, u2, u3, u4] = repos(4);
    const share = (last: UnitLease) => decideShare({ leases: [held(u1!, 'a'), held(u2!, 'a'), free(u3!), last], live: ['a', 'ghost'], self: 'a', now: NOW, ttlMs: TTL });
    assert.deepEqual(share(free(u4!, NOW - TTL)), { take: [u4!], release: [] });
    assert.deepEqual(share({ unit: u4!, owner: null, expiresAt: null }), { take: [u4!], release: [] });
    assert.deepEqual(share(free(u4!, NOW - TTL + 1)), { take: [], release: [] });
  });

  it('a daemon below floor itself still takes up to ceil: only another daemon below floor holds it back', () => {
    const units = repos(11);
    const leases = units.map((unit, i) => (i < 5 ? held(unit, 'b') : free(unit)));
    const decision = decideShare({ leases, live: ['a', 'b'], self: 'a', now: NOW, ttlMs: TTL });
    assert.equal(decision.take.length, 6);
    assert.deepEqual(decision.release, []);
  });

  it('takes nothing while it holds more than the share, even with units free', () => {
    const units = repos(10);
    const leases = units.map((unit, i) => (i < 6 ? held(unit, 'a') : i < 8 ? held(unit, 'b') : free(unit)));
    const decision = decideShare({ leases, live: ['a', 'b'], self: 'a', now: NOW, ttlMs: TTL });
    assert.deepEqual(decision.take, []);
    assert.equal(decision.release.length, 1);
  });

  it('releases down to floor while a daemon that holds some, not only one that holds none, is below it', () => {
    // 13 units over three: floor 4, ceil 5. b holds 3, c 1: a keeps 4 of its 9.
    const units = repos(13);
    const leases = units.map((unit, i) => held(unit, i < 9 ? 'a' : i < 12 ? 'b' : 'c'));
    const { take, release } = decideShare({ leases, live: ['a', 'b', 'c'], self: 'a', now: NOW, ttlMs: TTL });
    assert.deepEqual([take.length, release.length], [0, 5]);
  });

  it('with nobody below floor, takes and keeps up to ceil(units / live)', () => {
    // 14 units over three: floor 4, ceil 5; b and c hold 4 each.
    const units = repos(14);
    const others = (unit: string, i: number): UnitLease => held(unit, i < 4 ? 'b' : 'c');
    const taking = units.map((unit, i) => (i < 8 ? others(unit, i) : free(unit)));
    assert.equal(decideShare({ leases: taking, live: ['a', 'b', 'c'], self: 'a', now: NOW, ttlMs: TTL }).take.length, 5);
    const keeping = units.map((unit, i) => (i < 8 ? others(unit, i) : held(unit, 'a')));
    assert.equal(decideShare({ leases: keeping, live: ['a', 'b', 'c'], self: 'a', now: NOW, ttlMs: TTL }).release.length, 1);
  });

  it('lists what it releases sorted', () => {
    const units = repos(30);
    const leases = units.map((unit, i) => held(unit, i < 25 ? 'a' : i < 28 ? 'b' : 'c'));
    const { release } = decideShare({ leases, live: ['a', 'b', 'c'], self: 'a', now: NOW, ttlMs: TTL });
    assert.equal(release.length, 15);
    assert.deepEqual(release, [...release].sort());
  });

  it('a unit freed at a time still ahead of its clock (another daemon\'s clock runs fast) is free to take', () => {
    assert.deepEqual(decideShare({ leases: [free('repo:1', NOW + 5_000)], live: ['a'], self: 'a', now: NOW, ttlMs: TTL }).take, ['repo:1']);
  });

  it('daemons reach for different free units first', () => {
    const leases = repos(100).map((unit) => free(unit));
    const a = decideShare({ leases, live: ['a', 'b'], self: 'a', now: NOW, ttlMs: TTL }).take;
    const b = new Set(decideShare({ leases, live: ['a', 'b'], self: 'b', now: NOW, ttlMs: TTL }).take);
    assert.deepEqual([a.length, b.size], [50, 50]);
    const both = a.filter((unit) => b.has(unit)).length;
    assert.ok(both < 40, `${both} of 50 taken by both`);
  });

  it('breaks a tie of its preference hash by the unit name, in whatever order the units come', () => {
    // fnv1a("a\nrepo:65895") === fnv1a("a\nrepo:238460"): found by search.
    const tied = [free('repo:65895'), free('repo:238460')];
    for (const order of [tied, [...tied].reverse()]) {
      const leases = [held('repo:1', 'a'), held('repo:2', 'b'), ...order];
      assert.deepEqual(decideShare({ leases, live: ['a', 'b'], self: 'a', now: NOW, ttlMs: TTL }).take, ['repo:238460']);
    }
  });

  it('gives up the units it would take last, so what it keeps it would take again', () => {
    const units = repos(12);
    const mine = units.slice(0, 8);
    const leases = units.map((unit) => (mine.includes(unit) ? held(unit, 'a') : held(unit, 'b')));
    const { release } = decideShare({ leases, live: ['a', 'b', 'c'], self: 'a', now: NOW, ttlMs: TTL });
    assert.equal(release.length, 4);
    // The same eight free, with room for four: it takes exactly the ones it kept.
    const again = decideShare({
      leases: units.map((unit) => (mine.includes(unit) ? free(unit) : held(unit, 'b'))),
      live: ['a', 'b', 'c'],
      self: 'a',
      now: NOW,
      ttlMs: TTL,
    }).take;
    assert.deepEqual(again, mine.filter((unit) => !release.includes(unit)).sort());
  });
});

describe('sweep schedule', () => {
  const T = 10 * WEEK_MS;

  it('a member is busy below a day of quiet, quiet from a day, very quiet from a week or never changed', () => {
    assert.equal(quietFactor(null, T), 4);
    assert.equal(quietFactor(T, T), 1);
    assert.equal(quietFactor(T - DAY_MS + 1, T), 1);
    assert.equal(quietFactor(T - DAY_MS, T), 2);
    assert.equal(quietFactor(T - WEEK_MS + 1, T), 2);
    assert.equal(quietFactor(T - WEEK_MS, T), 4);
  });

  it('the interval by path: never for a walk, the sweep interval, the reconcile interval times the quiet factor', () => {
    const intervals = { walkMs: 1, sweepMs: 20, reconcileMs: 300 };
    assert.equal(sweepInterval('walk', T, T, intervals), Number.POSITIVE_INFINITY);
    assert.equal(sweepInterval('sweep', null, T, intervals), 20);
    assert.equal(sweepInterval('stream', T - DAY_MS, T, intervals), 600);
  });

  it('jitter is a fraction in [0, 1) that sets consecutive ids far apart', () => {
    assert.equal(jitter(0), 0);
    assert.ok(Math.abs(jitter(1) - 0.618034) < 1e-6, String(jitter(1)));
    assert.ok(Math.abs(jitter(2) - 0.236068) < 1e-6, String(jitter(2)));
    for (let id = 1; id < 2000; id++) assert.ok(jitter(id) >= 0 && jitter(id) < 1, `${id}: ${jitter(id)}`);
  });

  it('reads an ISO time, and anything else as older than anything', () => {
    assert.equal(instant('2025-06-01T00:00:00Z'), Date.UTC(2025, 5, 1));
    assert.equal(instant(null), Number.NEGATIVE_INFINITY);
    assert.equal(instant('yesterday'), Number.NEGATIVE_INFINITY);
  });

  it('picks what is due at now exactly, tops up only with members that have a next sweep, in whole batches, within the limit', () => {
    const member = (nextSweepAt: number) => ({ nextSweepAt });
    const due = member(100);
    const soon = [member(103), member(101), member(102)];
    const never = member(Number.POSITIVE_INFINITY);
    const all = [never, ...soon, due];
    assert.deepEqual(pickDue(all, 99, 10, 4), []);
    assert.deepEqual(pickDue(all, 100, 10, 4), [due, soon[1], soon[2], soon[0]]);
    assert.deepEqual(pickDue(all, 100, 10, 8), [due, soon[1], soon[2], soon[0]], 'the walk path is never topped up');
    assert.deepEqual(pickDue(all, 100, 10, 2.9), [due, soon[1]], 'batches of whole members');
    assert.deepEqual(pickDue(all, 100, 10, 0), [due], 'at least one a batch');
    assert.deepEqual(pickDue(all, 100, 3, 4), [due, soon[1], soon[2]]);
    assert.deepEqual(pickDue(all, 100, -1, 4), []);
    assert.deepEqual(pickDue(all, 102, 10, 1), [due, soon[1], soon[2]], 'the longest overdue first');
  });
});

describe('capacity projection, term by term', () => {
  const budget = { restPointsPerMinute: 500, graphqlPointsPerMinute: 1000, cpuMsPerMinute: 60_000, minIntervalMs: 0, graphqlPointsPerHour: 5000 };
  // Every term at work: 2 streams every 2 min, 6 discovery pages every 30 min, 400 streamed members
  // reconciled in batches of 50 every 20 min, 300 swept, 2,000 walked.
  const input = (overrides: Partial<CapacityInput> = {}, measured = true): CapacityInput => ({
    members: { walk: 2000, stream: 400, sweep: 300 },
    streams: 2,
    parseIntervalMs: 120_000,
    reconcileIntervalMs: 1_200_000,
    sweepBatch: 50,
    discoveryPages: 6,
    discoveryIntervalMs: 1_800_000,
    budget,
    ...(measured ? { measured: { restMs: 100, graphqlMs: 2000 } } : {}),
    ...overrides,
  });

  it('walks within what the streams and discovery leave of the REST points, and prices the idle hour', () => {
    // REST for walks: 500 × 0.8 − (2 streams / 2 min + 6 pages / 30 min) = 398.8 a minute; 2,000 walks take 300,902.7 ms.
    // REST CPU: 48 s − 8 reconciliations / 20 min × 2 s − 6 sweeps / 2 min × 2 s = 41.2 s, 412 walks a minute: not the bound.
    const walkMs = 300_903;
    assert.deepEqual(projectCapacity(input()), {
      paths: {
        walk: { members: 2000, intervalMs: walkMs, latencyMs: 0.95 * walkMs + 100, boundBy: 'rest-points' },
        stream: { members: 400, intervalMs: 120_000, latencyMs: 0.95 * 120_000 + 100, boundBy: 'interval' },
        sweep: { members: 300, intervalMs: 120_000, latencyMs: 0.95 * 120_000 + 2000 + 100, boundBy: 'interval' },
      },
      walkFits: 797, // 398.8 × 2 min
      reconcileIntervalMs: 1_200_000,
      idlePerHour: {
        restPrimary: 12,
        restRequests: 2 * 30 + 2000 * (3_600_000 / walkMs) + 12,
        graphqlPoints: 8 * 3 + 6 * 30,
      },
    });
  });

  it('bounds the walks by REST CPU time when answers are slower', () => {
    // 41.2 s / 110 ms = 374.5 walks a minute.
    const capacity = projectCapacity(input({ measured: { restMs: 110, graphqlMs: 2000 } }));
    assert.deepEqual(capacity.paths.walk, { members: 2000, intervalMs: 320_389, latencyMs: 0.95 * 320_389 + 110, boundBy: 'cpu-time' });
    assert.equal(capacity.walkFits, 749);
  });

  it('bounds the sweeps by GraphQL points, CPU time, or the primary budget, each after the reconciliations', () => {
    const sweep = (overrides: Partial<CapacityInput>) => {
      const { intervalMs, boundBy } = projectCapacity(input({ members: { walk: 0, stream: 400, sweep: 3000 }, ...overrides })).paths.sweep;
      return [intervalMs, boundBy];
    };
    // 60 queries at 10 × 0.8 − 0.4 = 7.6 points a minute.
    assert.deepEqual(sweep({ budget: { ...budget, graphqlPointsPerMinute: 10 } }), [473_685, 'graphql-points']);
    // 60 queries at (32 s − 0.4 × 2 s) / 2 s = 15.6 a minute.
    assert.deepEqual(sweep({}), [230_770, 'cpu-time']);
    // Batches of 100 cost 2 points: 30 queries at (500 × 0.8 / 60 − 0.2 × 2) / 2 = 3.13 a minute.
    assert.deepEqual(sweep({ sweepBatch: 100, budget: { ...budget, graphqlPointsPerHour: 500 } }), [574_469, 'graphql-primary']);
    // Idle, those batches of 100 cost 2 points a query: 4 reconciliations 3 times an hour, 30 sweeps every 574,469 ms.
    const idle = projectCapacity(input({ members: { walk: 0, stream: 400, sweep: 3000 }, sweepBatch: 100, budget: { ...budget, graphqlPointsPerHour: 500 } }));
    assert.equal(idle.idlePerHour.graphqlPoints, (4 * 3 + 30 * (3_600_000 / 574_469)) * 2);
  });

  it('assumes 200 ms and 1 s until answers are measured', () => {
    const { paths } = projectCapacity(input({}, false));
    assert.equal(paths.stream.latencyMs, 0.95 * 120_000 + 200);
    assert.equal(paths.sweep.latencyMs, 0.95 * 120_000 + 1000 + 200);
    assert.equal(projectCapacity(input({ measured: {} })).paths.sweep.latencyMs, 0.95 * 120_000 + 1000 + 200);
  });

  it('keeps the configured interval when a budget fits it exactly', () => {
    // 10 walks a minute at 12.5 × 0.8 = 10 points a minute.
    const capacity = projectCapacity(input({ members: { walk: 10, stream: 0, sweep: 0 }, streams: 0, discoveryPages: 0, parseIntervalMs: 60_000, budget: { ...budget, restPointsPerMinute: 12.5 } }));
    assert.deepEqual([capacity.paths.walk.intervalMs, capacity.paths.walk.boundBy], [60_000, 'interval']);
  });

  it('reads a latency in seconds below 90 s, minutes below 90 min, hours beyond', () => {
    assert.equal(describeLatency(45_400), '45 s');
    assert.equal(describeLatency(89_999), '90 s');
    assert.equal(describeLatency(90_000), '1.5 min');
    assert.equal(describeLatency(5_399_999), '90.0 min');
    assert.equal(describeLatency(5_400_000), '1.5 h');
    assert.equal(describeLatency(7_560_000), '2.1 h');
  });
});
