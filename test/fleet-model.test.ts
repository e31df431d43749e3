/**
 * The fleet's in-memory model, its path choice and the organisation filter:
 * pure domain code, tested directly with an injected clock.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Fleet, type FleetMember } from '../src/domain/fleet/fleet.js';
import { filterListing } from '../src/domain/fleet/organization-filter.js';
import { choosePaths, type PathPolicy } from '../src/domain/fleet/paths.js';
import { DiscoveryError } from '../src/domain/fleet/errors.js';
import { DAY_MS, WEEK_MS, type FleetIntervals } from '../src/domain/fleet/sweep-schedule.js';
import { ClassifiedError, failureKindOf, pauseReasonOf } from '../src/domain/failure.js';
import { SweepBatchSize } from '../src/domain/tasks/global/sweep-batch-size.js';
import type { DiscoveredRepository, FleetEntry } from '../src/domain/fleet/types.js';

const MINUTE = 60_000;
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

function entry(repositoryId: number, owner = 'acme', name = `repo-${repositoryId}`, extra: Partial<FleetEntry> = {}): FleetEntry {
  return { repositoryId, owner, name, githubId: 1000 + repositoryId, source: 'discovered', organization: owner, firstSyncedAt: null, ...extra };
}

interface Harness {
  readonly fleet: Fleet;
  readonly clock: { now: number };
  readonly policy: { current: PathPolicy };
  readonly intervals: { current: FleetIntervals };
  readonly events: string[];
}

function harness(policy: Partial<PathPolicy> = {}): Harness {
  const clock = { now: T0 };
  const policyBox = { current: { mode: 'auto', streamedOrganizations: new Set(['acme']), walkCapacity: 10, ...policy } as PathPolicy };
  const intervals = { current: { walkMs: MINUTE, sweepMs: 2 * MINUTE, reconcileMs: 30 * MINUTE } };
  const fleet = new Fleet({ intervals: () => intervals.current, policy: () => policyBox.current, now: () => clock.now });
  const events: string[] = [];
  const name = (member: FleetMember): string => `${member.partition.owner}/${member.partition.name}`;
  fleet.subscribe({
    added: (member) => events.push(`added ${name(member)} ${member.path}`),
    removed: (member) => events.push(`removed ${name(member)}`),
    pathChanged: (member, previous) => events.push(`path ${name(member)} ${previous}->${member.path}`),
    renamed: (member, previous) => events.push(`renamed ${previous.owner}/${previous.name}->${name(member)}`),
    nudged: (member) => events.push(`nudged ${name(member)}`),
  });
  return { fleet, clock, policy: policyBox, intervals, events };
}

describe('Fleet membership', () => {
  it('loads members with their paths and tells listeners each one, with its path', () => {
    const { fleet, events } = harness();
    fleet.load([entry(1), entry(2, 'someone', 'tool', { source: 'configured', organization: null })], new Map([[1, '2025-05-01T00:00:00Z']]));
    assert.deepEqual(events, ['added acme/repo-1 stream', 'added someone/tool walk']);
    assert.equal(fleet.byRepositoryId(1)?.watermark, '2025-05-01T00:00:00Z');
    assert.equal(fleet.byRepositoryId(2)?.nextSweepAt, Number.POSITIVE_INFINITY, 'the walk path is never swept');
    assert.deepEqual(fleet.counts(), { walk: 1, stream: 1, sweep: 0 });
  });

  it('finds a stream item by GitHub id, else by name ignoring case', () => {
    const { fleet } = harness();
    fleet.load([entry(1), entry(2, 'acme', 'Api', { githubId: null })], new Map());
    assert.equal(fleet.forStreamItem({ githubId: 1001, owner: 'x', name: 'y' })?.partition.repositoryId, 1);
    assert.equal(fleet.forStreamItem({ githubId: 77, owner: 'ACME', name: 'api' })?.partition.repositoryId, 2);
    assert.equal(fleet.forStreamItem({ githubId: 78, owner: 'acme', name: 'other' }), undefined);
  });

  it('joins and drops what discovery reports, follows renames, and moves the rest to sweeps once they outgrow the walk budget', () => {
    const { fleet, events } = harness({ streamedOrganizations: new Set(), walkCapacity: 2 });
    fleet.load([entry(1, 'beta')], new Map());
    events.length = 0;
    fleet.join({ added: [entry(2, 'beta'), entry(3, 'beta')], dropped: [], members: [entry(1, 'beta', 'renamed')] });
    assert.deepEqual(events, [
      'renamed beta/repo-1->beta/renamed',
      'path beta/renamed walk->sweep',
      'added beta/repo-2 sweep',
      'added beta/repo-3 sweep',
    ]);
    assert.equal(fleet.byName({ owner: 'BETA', name: 'RENAMED' })?.partition.repositoryId, 1);
    assert.equal(fleet.byName({ owner: 'beta', name: 'repo-1' }), undefined);
    assert.match(fleet.byRepositoryId(1)?.pathReason ?? '', /3 repositories .* exceed the 2/);
    events.length = 0;
    fleet.join({ added: [], dropped: [entry(3, 'beta')], members: [] });
    assert.deepEqual(events, ['removed beta/repo-3', 'path beta/renamed sweep->walk', 'path beta/repo-2 sweep->walk']);
    assert.equal(fleet.byGithubId(1003), undefined);
  });

  it('spreads the first sweeps of many members over the interval', () => {
    const { fleet } = harness();
    fleet.load(Array.from({ length: 10_000 }, (_, index) => entry(index + 1)), new Map());
    const reconcile = 30 * MINUTE * 4; // never changed: quiet
    const buckets = new Array<number>(10).fill(0);
    for (const member of fleet.members()) {
      const offset = member.nextSweepAt - T0;
      assert.ok(offset >= 0 && offset < reconcile, `first sweep within the interval, got ${offset}`);
      buckets[Math.floor((offset / reconcile) * 10)]! += 1;
    }
    for (const count of buckets) assert.ok(count > 800 && count < 1200, `even spread, got ${buckets.join(',')}`);
    assert.equal(fleet.dueForSweep(T0 + reconcile / 10, 100_000).length, buckets[0]);
    assert.equal(fleet.dueForSweep(T0 + reconcile, 50).length, 50);
  });

  it('gives members joined by the first discovery the watermarks the store holds when the fleet loads', () => {
    const { fleet } = harness();
    // Setup: the first discovery joins the members before the store's watermarks are read.
    fleet.join({ added: [entry(1), entry(2)], dropped: [], members: [] });
    assert.equal(fleet.byRepositoryId(1)?.watermark, null);
    fleet.load([entry(1), entry(2)], new Map([[1, '2025-06-01T10:00:00Z']]));
    assert.equal(fleet.byRepositoryId(1)?.watermark, '2025-06-01T10:00:00Z', 'a restart does not forget what is stored');
    assert.equal(fleet.byRepositoryId(2)?.watermark, null);
  });

  it('tops the last batch up with the members due soonest, and asks nothing when none is due', () => {
    const { fleet } = harness();
    fleet.load(Array.from({ length: 10_000 }, (_, index) => entry(index + 1)), new Map());
    const first = Math.min(...[...fleet.members()].map((member) => member.nextSweepAt));
    assert.deepEqual(fleet.dueForSweep(first - 1, 2_000, 40), [], 'nothing due: no query');
    const due = fleet.dueForSweep(first, 2_000, 40);
    assert.equal(due.length, 40, 'one due member brings a full batch');
    assert.equal(due[0]?.nextSweepAt, first, 'the due one first');
    const times = due.map((member) => member.nextSweepAt);
    const soonest = [...fleet.members()].map((member) => member.nextSweepAt).sort((a, b) => a - b).slice(0, 40);
    assert.deepEqual(times, soonest, 'topped up with the members due soonest');
    const later = first + 30 * MINUTE * 4 * 0.05;
    const many = fleet.dueForSweep(later, 2_000, 40).length;
    assert.equal(many % 40, 0, `whole batches (${many})`);
  });
});

describe('Fleet sweeps', () => {
  function streamed(): Harness {
    const h = harness();
    h.fleet.load([entry(1)], new Map([[1, '2025-06-01T11:00:00Z']]));
    h.events.length = 0;
    return h;
  }

  it('nudges only when GitHub has something strictly newer than the watermark, compared as instants', () => {
    const { fleet, events } = streamed();
    fleet.streamed('ACME', T0);
    assert.equal(fleet.swept(1, { ok: true, latestUpdatedAt: '2025-06-01T11:00:00.000Z' }, T0).verdict, 'unchanged');
    assert.equal(fleet.swept(1, { ok: true, latestUpdatedAt: '2025-06-01T12:00:00+01:00' }, T0).verdict, 'unchanged');
    assert.equal(fleet.swept(1, { ok: true, latestUpdatedAt: null }, T0).verdict, 'unchanged');
    assert.deepEqual(events, []);
    assert.equal(fleet.swept(1, { ok: true, latestUpdatedAt: '2025-06-01T11:30:00Z' }, T0).verdict, 'nudged');
    assert.deepEqual(events, ['nudged acme/repo-1']);
    assert.equal(fleet.swept(1, { ok: true, latestUpdatedAt: '2025-06-01T11:30:00Z' }, T0).verdict, 'unchanged', 'a nudge is not repeated');
  });

  it('leaves to the stream a change it has not read yet', () => {
    const { fleet, events } = streamed();
    assert.equal(fleet.swept(1, { ok: true, latestUpdatedAt: '2025-06-01T11:30:00Z' }, T0).verdict, 'pending', 'no stream position yet');
    fleet.streamed('acme', Date.parse('2025-06-01T11:10:00Z'));
    assert.equal(fleet.swept(1, { ok: true, latestUpdatedAt: '2025-06-01T11:30:00Z' }, T0).verdict, 'pending');
    fleet.streamed('acme', Date.parse('2025-06-01T11:40:00Z'));
    assert.equal(fleet.swept(1, { ok: true, latestUpdatedAt: '2025-06-01T11:30:00Z' }, T0).verdict, 'nudged', 'the stream went past it: it missed it');
    assert.deepEqual(events, ['nudged acme/repo-1']);
  });

  it('reconciles quiet stream members less often, busy ones at the base, sweep members every sweep interval', () => {
    const { fleet, intervals, clock } = harness({ walkCapacity: 0 });
    fleet.load([entry(1), entry(2, 'other')], new Map([[1, new Date(T0 - 2 * DAY_MS).toISOString()]]));
    const next = (id: number, now: number): number => {
      fleet.swept(id, { ok: true, latestUpdatedAt: null }, now);
      return (fleet.byRepositoryId(id)?.nextSweepAt ?? 0) - now;
    };
    const base = intervals.current.reconcileMs;
    assert.equal(next(1, T0), 2 * base, 'quiet for two days');
    assert.equal(next(1, T0 + WEEK_MS), 4 * base, 'quiet for over a week');
    clock.now = T0 + WEEK_MS;
    fleet.changed(1, new Date(T0 + WEEK_MS).toISOString());
    assert.equal(fleet.byRepositoryId(1)?.nextSweepAt, T0 + WEEK_MS + base, 'a change pulls the next reconciliation in');
    assert.equal(next(1, T0 + WEEK_MS + MINUTE), base, 'busy');
    assert.equal(next(2, T0), intervals.current.sweepMs);
    intervals.current = { ...intervals.current, sweepMs: 5 * MINUTE };
    assert.equal(next(2, T0), 5 * MINUTE, 'the stretched interval is read at each scheduling');
  });

  it('moves a member whose sweeps keep failing to the walk path, and asks for a discovered one that is gone to be dropped', () => {
    const { fleet, events } = harness();
    fleet.load([entry(1), entry(2, 'acme', 'private', { source: 'configured' }), entry(3)], new Map());
    events.length = 0;
    const forbidden = { ok: false, error: 'forbidden', message: 'Resource protected by organization SAML enforcement' } as const;
    assert.equal(fleet.swept(1, forbidden, T0).verdict, 'failed', 'once is not a pattern');
    assert.equal(fleet.swept(1, { ok: true, latestUpdatedAt: null }, T0).verdict, 'unchanged');
    assert.equal(fleet.swept(1, forbidden, T0).verdict, 'failed', 'a success in between starts the count again');
    const moved = fleet.swept(1, forbidden, T0);
    assert.equal(moved.verdict, 'walk');
    assert.deepEqual(events, ['path acme/repo-1 stream->walk']);
    assert.match(fleet.byRepositoryId(1)?.pathReason ?? '', /SAML/);
    fleet.repath();
    assert.equal(fleet.byRepositoryId(1)?.path, 'walk', 'a later path choice keeps it walked');

    const gone = { ok: false, error: 'not-found', message: 'Could not resolve to a Repository' } as const;
    fleet.swept(2, gone, T0);
    assert.equal(fleet.swept(2, gone, T0).verdict, 'walk', 'a configured repository is never dropped by a sweep');
    fleet.swept(3, gone, T0);
    assert.equal(fleet.swept(3, gone, T0).verdict, 'drop');
    assert.equal(fleet.swept(3, { ok: false, error: 'other', message: 'x' }, T0).verdict, 'failed');
    assert.equal(fleet.swept(99, gone, T0).verdict, 'gone');
  });
});

describe('choosePaths', () => {
  const members = [
    { repositoryId: 1, owner: 'Acme' },
    { repositoryId: 2, owner: 'acme' },
    { repositoryId: 3, owner: 'solo' },
    { repositoryId: 4, owner: 'solo' },
  ];

  it('auto: streamed organisations stream, the rest are walked while all of them fit, all swept beyond', () => {
    const fit = choosePaths(members, { mode: 'auto', streamedOrganizations: new Set(['acme']), walkCapacity: 2 });
    assert.deepEqual([...fit.values()].map((choice) => choice.path), ['stream', 'stream', 'walk', 'walk']);
    const over = choosePaths(members, { mode: 'auto', streamedOrganizations: new Set(['acme']), walkCapacity: 1 });
    assert.deepEqual([...over.values()].map((choice) => choice.path), ['stream', 'stream', 'sweep', 'sweep']);
    assert.match(over.get(3)?.reason ?? '', /2 repositories outside a streamed organisation exceed the 1/);
    const noStream = choosePaths(members, { mode: 'auto', streamedOrganizations: new Set(), walkCapacity: 4 });
    assert.deepEqual([...noStream.values()].map((choice) => choice.path), ['walk', 'walk', 'walk', 'walk']);
  });

  it('a forced mode applies to everyone, except that a stream needs an organisation with one', () => {
    const walk = choosePaths(members, { mode: 'walk', streamedOrganizations: new Set(['acme']), walkCapacity: 0 });
    assert.deepEqual([...walk.values()].map((choice) => choice.path), ['walk', 'walk', 'walk', 'walk']);
    const stream = choosePaths(members, { mode: 'stream', streamedOrganizations: new Set(['acme']), walkCapacity: 100 });
    assert.deepEqual([...stream.values()].map((choice) => choice.path), ['stream', 'stream', 'sweep', 'sweep']);
    assert.match(stream.get(3)?.reason ?? '', /detection: stream/);
  });
});

describe('filterListing', () => {
  const repo = (name: string, extra: Partial<DiscoveredRepository> = {}): DiscoveredRepository => ({
    githubId: name.length,
    owner: 'acme',
    name,
    private: false,
    htmlUrl: `https://github.com/acme/${name}`,
    archived: false,
    topics: [],
    ...extra,
  });

  it('keeps every unarchived repository when the entry is a bare name', () => {
    const result = filterListing({ name: 'acme', include: [], exclude: [], topics: [] }, [repo('api'), repo('.github'), repo('old', { archived: true })]);
    assert.deepEqual(result.kept.map((r) => r.name), ['api', '.github']);
    assert.equal(result.archived, 1);
    const star = filterListing({ name: 'acme', include: ['*'], exclude: [], topics: [] }, [repo('api'), repo('.github')]);
    assert.deepEqual(star.kept.map((r) => r.name), ['api', '.github'], 'a glob takes names starting with a dot too');
  });

  it('applies include and exclude globs ignoring case, and requires every topic', () => {
    const spec = { name: 'acme', include: ['api-*', 'web'], exclude: ['*-legacy'], topics: ['Autosolve', 'python'] };
    const listed = [
      repo('API-Core', { topics: ['autosolve', 'python', 'x'] }),
      repo('api-legacy', { topics: ['autosolve', 'python'] }),
      repo('Web', { topics: ['autosolve', 'python'] }),
      repo('api-one', { topics: ['autosolve'] }),
      repo('docs', { topics: ['autosolve', 'python'] }),
      repo('api-archived', { archived: true, topics: ['autosolve', 'python'] }),
    ];
    const result = filterListing(spec, listed);
    assert.deepEqual(result.kept.map((r) => r.name), ['API-Core', 'Web']);
    assert.deepEqual({ archived: result.archived, filtered: result.filtered }, { archived: 1, filtered: 3 });
  });
});

describe('Fleet bookkeeping', () => {
  it('raises a watermark only forward, marks joins once, and walks only the walk path on its own', () => {
    const { fleet } = harness();
    fleet.load([entry(1), entry(2, 'solo', 'x', { source: 'configured', organization: null, firstSyncedAt: '2025-01-01T00:00:00Z' })], new Map());
    fleet.changed(1, '2025-06-01T10:00:00Z');
    fleet.changed(1, '2025-06-01T09:00:00Z');
    assert.equal(fleet.byRepositoryId(1)?.watermark, '2025-06-01T10:00:00Z');
    assert.equal(fleet.byRepositoryId(1)?.lastChangeAt, Date.parse('2025-06-01T10:00:00Z'), 'busy by when GitHub says it changed, not when it was read');
    assert.deepEqual(fleet.unjoined(), [1]);
    fleet.joined([1, 2], '2025-06-01T12:00:00Z');
    assert.equal(fleet.byRepositoryId(1)?.firstSyncedAt, '2025-06-01T12:00:00Z');
    assert.equal(fleet.byRepositoryId(2)?.firstSyncedAt, '2025-01-01T00:00:00Z', 'a first sync time never moves');
    const [streamMember, walkMember] = [fleet.byRepositoryId(1)!, fleet.byRepositoryId(2)!];
    assert.equal(fleet.walkIntervalOf(streamMember), null);
    assert.equal(fleet.walkIntervalOf(walkMember), MINUTE);
    fleet.leave(1);
    assert.equal(fleet.size, 1);
    assert.equal(fleet.byGithubId(1001), undefined);
  });
});

describe('SweepBatchSize', () => {
  it('halves on a slow answer or a failure, grows by a quarter on quick ones, within 1..100', () => {
    const size = new SweepBatchSize(40, 5_000);
    size.answered(6_000);
    assert.equal(size.current, 20);
    size.failed();
    assert.equal(size.current, 10);
    size.answered(100);
    assert.equal(size.current, 12);
    for (let i = 0; i < 40; i++) size.answered(100);
    assert.equal(size.current, 100);
    for (let i = 0; i < 40; i++) size.failed();
    assert.equal(size.current, 1);
    for (let i = 0; i < 3; i++) size.answered(100);
    assert.equal(size.current, 1);
    size.answered(100);
    assert.equal(size.current, 2, 'growth from 1 still moves');
  });
});

describe('DiscoveryError', () => {
  it('names every failing organisation; a permanent failure decides the classification and is a configuration error', () => {
    const busy = new ClassifiedError('service', 'GitHub answered 502');
    const missing = new ClassifiedError('permanent', 'Not Found (404)');
    const error = new DiscoveryError([
      { organization: 'busy', cause: busy },
      { organization: 'typo-org', cause: missing },
    ]);
    assert.match(error.message, /typo-org, busy/);
    assert.match(error.message, /check github.organizations/);
    assert.equal(failureKindOf(error), 'permanent');
    assert.equal(pauseReasonOf(error), 'configuration');
    const transient = new DiscoveryError([{ organization: 'busy', cause: busy }]);
    assert.equal(failureKindOf(transient), 'service');
    assert.equal(pauseReasonOf(transient), undefined);
    const refused = new DiscoveryError([{ organization: 'acme', cause: new ClassifiedError('permanent', 'Bad credentials', { pausesWork: 'credential' }) }]);
    assert.equal(pauseReasonOf(refused), 'credential', 'a refused token stays a credential problem');
  });
});
