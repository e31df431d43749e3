/**
 * The fleet's detectors end to end: discovery, an organisation's issue stream
 * and the sweeper, against the simulator over loopback with the real client
 * and a real SQLite file. The walk runner is not here: a nudge is what a
 * detector hands it.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Fleet } from '../src/domain/fleet/fleet.js';
import type { PathPolicy } from '../src/domain/fleet/paths.js';
import type { OrganizationSpec } from '../src/domain/fleet/types.js';
import type { Log } from '../src/domain/ports.js';
import { discovery, firstDiscovery } from '../src/domain/tasks/global/discovery.js';
import { scopeStream } from '../src/domain/tasks/global/scope-stream.js';
import { sweeper } from '../src/domain/tasks/global/sweeper.js';
import { GitHubClient } from '../src/infra/github/index.js';
import { SqlFleetStore, SqlScopeSyncStore, type Database } from '../src/infra/store/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { freshDatabase } from './support/store.js';

const TOKEN = 'fleet-tasks-token';
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const MINUTE = 60_000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  readonly sim: Simulator;
  readonly database: Database;
  readonly clock: { now: number };
  readonly fleet: Fleet;
  readonly policy: { current: PathPolicy };
  readonly github: GitHubClient;
  readonly fleetStore: SqlFleetStore;
  readonly lines: string[];
  readonly nudged: string[];
  readonly log: Log;
}

async function setUp(): Promise<Setup> {
  const clock = { now: T0 };
  const sim = await startSimulator({ tokens: [TOKEN], now: () => clock.now });
  cleanups.push(() => sim.close());
  const { database, cleanup } = await freshDatabase();
  cleanups.push(cleanup);
  const github = new GitHubClient({ baseUrl: sim.url, token: TOKEN, timeoutMs: 10_000, userAgent: 'autosolve/test', throttle: { minIntervalMs: 0 } });
  const policy = { current: { mode: 'auto', streamedOrganizations: new Set(['acme']), walkCapacity: 10 } as PathPolicy };
  const fleet = new Fleet({ intervals: () => ({ walkMs: MINUTE, sweepMs: 2 * MINUTE, reconcileMs: 30 * MINUTE }), policy: () => policy.current, now: () => clock.now });
  const nudged: string[] = [];
  fleet.subscribe({ nudged: (member) => nudged.push(member.partition.name) });
  const lines: string[] = [];
  const log: Log = {
    debug: () => {},
    info: (_fields, message) => lines.push(message),
    warn: (_fields, message) => lines.push(message),
    error: (_fields, message) => lines.push(message),
    child: () => log,
  };
  const fleetStore = new SqlFleetStore(database.db, { now: () => new Date(clock.now) });
  return { sim, database, clock, fleet, policy, github, fleetStore, lines, nudged, log };
}

const signal = (): AbortSignal => new AbortController().signal;
const org = (name: string, extra: Partial<OrganizationSpec> = {}): OrganizationSpec => ({ name, include: [], exclude: [], topics: [], ...extra });

async function queued(database: Database): Promise<number[]> {
  const rows = await database.db.selectFrom('jobs').select('issue_github_id').orderBy('issue_github_id').execute();
  return rows.map((row) => Number(row.issue_github_id));
}

describe('fleet detectors', () => {
  it('discovers an organisation, streams its issues into jobs for its members only, and fails setup naming an organisation that does not exist', async () => {
    const s = await setUp();
    s.sim.addRepository({ owner: 'acme', name: 'api' });
    s.sim.addRepository({ owner: 'acme', name: 'web' });
    s.sim.addRepository({ owner: 'acme', name: 'attic', archived: true });
    s.sim.addRepository({ owner: 'acme', name: 'api-legacy' });
    s.clock.now += MINUTE;
    const wanted = [s.sim.addIssue('acme', 'api', { title: 'help' }), s.sim.addIssue('acme', 'web', { title: 'broken' })];
    const closed = s.sim.addIssue('acme', 'web', { title: 'done', state: 'closed' });
    s.sim.addIssue('acme', 'attic', { title: 'archived: nobody answers' });
    s.sim.addIssue('acme', 'api-legacy', { title: 'filtered out' });
    s.clock.now += MINUTE;

    const deps = { github: s.github, store: s.fleetStore, fleet: s.fleet, organizations: [org('acme', { exclude: ['*-legacy'] })], interval: 3_600_000, log: s.log };
    await firstDiscovery(deps).run(signal());
    assert.deepEqual([...s.fleet.members()].map((member) => `${member.partition.name} ${member.path}`).sort(), ['api stream', 'web stream']);
    await assert.rejects(
      firstDiscovery({ ...deps, organizations: [org('no-such-org'), ...deps.organizations] }).run(signal()),
      (error: Error) => /no-such-org/.test(error.message) && /check github.organizations/.test(error.message),
    );
    assert.equal(s.fleet.size, 2, 'the organisation that lists keeps its members');

    let rings = 0;
    const stream = scopeStream(
      { github: s.github, store: new SqlScopeSyncStore(s.database.db, { maxAttempts: 3 }), fleetStore: s.fleetStore, fleet: s.fleet, interval: MINUTE, requiredLabel: undefined, backlog: 'answer', log: s.log, onEnqueued: () => rings++, now: () => s.clock.now },
      'acme',
    );
    assert.equal(stream.resource, 'issue-stream-acme');
    await stream.work(signal());
    assert.deepEqual(await queued(s.database), wanted.map((issue) => issue.id).sort((a, b) => a - b));
    assert.equal(rings, 1);
    assert.ok(s.fleet.byName({ owner: 'acme', name: 'web' })?.watermark, 'the stream raised the watermark');

    s.sim.clearRequests();
    await stream.work(signal());
    assert.deepEqual(s.sim.requests.map((request) => request.status), [304], 'caught up: one conditional request');

    s.clock.now += MINUTE;
    const later = s.sim.addIssue('acme', 'api', { title: 'another' });
    await stream.work(signal());
    assert.ok((await queued(s.database)).includes(later.id));
    assert.equal(rings, 2);

    s.clock.now += MINUTE;
    s.sim.updateIssue('acme', 'web', closed.number, { title: 'still done' });
    await stream.work(signal());
    assert.equal(rings, 2, 'a page that queued nothing wakes nobody');

    // A member on another path is its path's business: the stream stores nothing of it.
    s.policy.current = { ...s.policy.current, mode: 'walk' };
    s.fleet.repath();
    const jobsBefore = await queued(s.database);
    s.clock.now += MINUTE;
    s.sim.addIssue('acme', 'api', { title: 'walked, not streamed' });
    await stream.work(signal());
    assert.deepEqual(await queued(s.database), jobsBefore);
    s.policy.current = { ...s.policy.current, mode: 'auto' };
    s.fleet.repath();

    s.sim.removeRepository('acme', 'web');
    await discovery(deps).work(signal());
    assert.deepEqual([...s.fleet.members()].map((member) => member.partition.name), ['api']);
    assert.ok(s.lines.includes('acme/web left the fleet (no longer listed, archived or filtered out)'), s.lines.join('\n'));
  });

  it('sweeps: walks a member whose change the stream missed, splits a query that times out, and moves a member GitHub keeps refusing to the walk path', async () => {
    const s = await setUp();
    for (const name of ['a', 'b', 'c', 'd']) s.sim.addRepository({ owner: 'acme', name });
    s.clock.now += MINUTE;
    const issue = s.sim.addIssue('acme', 'b', { title: 'first' });
    s.sim.addIssue('acme', 'c', { title: 'first' });
    await firstDiscovery({ github: s.github, store: s.fleetStore, fleet: s.fleet, organizations: [org('acme')], interval: 3_600_000, log: s.log }).run(signal());
    const stream = scopeStream(
      { github: s.github, store: new SqlScopeSyncStore(s.database.db, { maxAttempts: 3 }), fleetStore: s.fleetStore, fleet: s.fleet, interval: MINUTE, requiredLabel: undefined, backlog: 'answer', log: s.log, now: () => s.clock.now },
      'acme',
    );
    await stream.work(signal());

    // An update the stream never shows; the stream reads on past it.
    s.clock.now += MINUTE;
    s.sim.hideFromScopeListings('acme', 'b', issue.number);
    s.sim.updateIssue('acme', 'b', issue.number, { title: 'changed' });
    s.clock.now += 10 * MINUTE;
    await stream.work(signal());
    assert.deepEqual(s.nudged, []);

    s.sim.injectFault({ kind: 'graphql-timeout', times: 1 });
    s.sim.injectFault({ kind: 'graphql-forbidden', repository: 'acme/d', times: 2 });
    const sweep = sweeper({ github: s.github, store: s.fleetStore, fleet: s.fleet, interval: 5_000, batchSize: 40, log: s.log, now: () => s.clock.now });
    s.clock.now += 5 * 3_600_000; // every member due (quiet ones: 4 x 30 min)
    s.sim.clearRequests();
    await sweep.work(signal());
    assert.deepEqual(s.nudged, ['b'], 'the missed change is walked, and only it');
    assert.equal(s.sim.requests.filter((request) => request.path === '/graphql').length, 3, 'the timed-out query was asked again in halves');
    assert.equal(s.fleet.byName({ owner: 'acme', name: 'd' })?.path, 'stream', 'one refusal is not a pattern');

    s.clock.now += 5 * 3_600_000;
    await sweep.work(signal());
    const d = s.fleet.byName({ owner: 'acme', name: 'd' });
    assert.equal(d?.path, 'walk');
    assert.match(d?.pathReason ?? '', /forbidden 2 times/);
    assert.deepEqual(s.nudged, ['b'], 'nothing else changed');
  });
});
