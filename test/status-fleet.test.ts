/**
 * `autosolve status` on a fleet the daemon placed on several detection paths:
 * the real CLI against a database written with the real stores, the
 * projection stored as the daemon stores it. It says which path each
 * repository is on, how fast each path detects and what bounds it, in words
 * that name the setting to change; and says nothing of detection when no
 * projection is stored (a daemon that never ran).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DiscoveredRepository } from '../src/domain/fleet/types.js';
import {
  FLEET_CAPACITY_STATE_KEY,
  openDatabase,
  SchemaMigrator,
  SqlFleetStore,
  SqlIssueSyncStore,
  SqlRepositoryStore,
  SqlStateStore,
  type StoredCapacity,
} from '../src/infra/store/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';

function listed(owner: string, name: string, githubId: number): DiscoveredRepository {
  return { githubId, owner, name, private: false, htmlUrl: `https://github.com/${owner}/${name}`, archived: false, topics: [] };
}

/** What FleetWiring.reproject() stores: the sweep path stretched by GitHub's GraphQL server time. */
function projection(projectedAt: string): StoredCapacity {
  return {
    projectedAt,
    paths: {
      walk: { members: 1, intervalMs: 60_000, latencyMs: 57_200, boundBy: 'interval' },
      stream: { members: 3, intervalMs: 60_000, latencyMs: 57_200, boundBy: 'interval' },
      sweep: { members: 2, intervalMs: 252_000, latencyMs: 240_600, boundBy: 'cpu-time' },
    },
    walkFits: 0,
    reconcileIntervalMs: 1_800_000,
    idlePerHour: { restPrimary: 1, restRequests: 181.4, graphqlPoints: 30 },
    reasons: {
      walk: 'walked every parseInterval (github.fleet.detection: walk)',
      stream: 'found by the issue stream of organisation big, reconciled by sweeps',
      sweep: 'swept, walked when changed: the 3 repositories outside a streamed organisation exceed the 0 the REST budget can walk every parseInterval',
    },
  };
}

/** One configured repository (walk), three discovered (stream), two more configured (sweep); the projection when `stored`. */
async function buildDatabase(path: string, stored: boolean): Promise<void> {
  const database = await openDatabase(path);
  try {
    await new SchemaMigrator(database.db, database.path).up();
    const repos = new SqlRepositoryStore(database.db);
    const record = (name: string, githubId: number) => repos.record({ owner: 'acme', name }, { githubId, owner: 'acme', name, private: false, htmlUrl: '' });
    const api = await record('api', 1);
    const docs = await record('docs', 2);
    const ops = await record('ops', 3);
    const fleet = new SqlFleetStore(database.db);
    const { members } = await fleet.syncOrganization('big', [listed('big', 'one', 11), listed('big', 'two', 12), listed('big', 'three', 13)]);
    await fleet.recordPaths(new Map([[api, 'walk'], [docs, 'sweep'], [ops, 'sweep'], ...members.map((m) => [m.repositoryId, 'stream'] as const)]));
    await new SqlIssueSyncStore(database.db, { maxAttempts: 3, now: () => new Date(Date.now() - 120_000) }).recordPoll(api, { ok: true });
    if (stored) await new SqlStateStore(database.db).put(FLEET_CAPACITY_STATE_KEY, projection(new Date(Date.now() - 60_000).toISOString()));
  } finally {
    await database.close();
  }
}

describe('status of a fleet on several detection paths (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  const configFor = (database: string) =>
    writeFile(dir.path, `${database}.yml`, ['database:', `  sqlitePath: ${database}`, 'github:', '  repositories: [acme/api, acme/docs, acme/ops]', '  organizations: [big]', ''].join('\n'));
  const cli = (database: string, ...args: string[]) => runCli([...args, '--config', configFor(database)], { cwd: dir.path });

  before(async () => {
    dir = tempDir();
    await buildDatabase(join(dir.path, 'projected.db'), true);
    await buildDatabase(join(dir.path, 'never-ran.db'), false);
  });
  after(() => dir.cleanup());

  it('says which path each repository is on, how fast each path detects and what bounds it', async () => {
    const result = await cli('projected.db', 'status');
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    for (const line of lines.slice(1)) assert.ok([...line].length <= 80, `too wide: ${line}`);

    // REPOSITORY PATH VALID LAST-POLL ISSUES OPEN PEND RUN DONE DEAD
    assert.match(result.stdout, /^REPOSITORY\s+PATH\s+VALID\s+LAST POLL\s+ISSUES/m);
    assert.match(result.stdout, /^acme\/api\s+walk\s+✓\s+2m ago\s+0\s+0/m);
    assert.match(result.stdout, /^acme\/docs\s+sweep\s+✓\s+never/m);
    assert.match(result.stdout, /^big\/three\s+stream\s+✓\s+never/m);

    const section = result.stdout.slice(result.stdout.indexOf('\ndetection ') + 1);
    assert.match(section, /^detection {3}projected 1m ago; p95: from an issue's update to its job\n/);
    // Long text is wrapped under its block, never cut: join the wrapped lines back to read it.
    const detection = section.replace(/\n {20}(?! )/g, ' ');
    const block = (path: string) => detection.split('\n').find((line) => line.startsWith(`${' '.repeat(12)}${path} `)) ?? assert.fail(`no ${path} block:\n${section}`);
    assert.equal(block('walk'), [
      '            walk    1 repository, walked every 60 s, p95 57 s',
      'set by github.issues.parseInterval: it fits every budget',
      'why: walked every parseInterval (github.fleet.detection: walk)',
    ].join(' '));
    assert.equal(block('stream'), [
      '            stream  3 repositories, its stream read every 60 s, p95 57 s',
      'set by github.issues.parseInterval: it fits every budget',
      'why: found by the issue stream of organisation big, reconciled by sweeps',
      'reconciled by a sweep every 30.0 min at the most',
    ].join(' '));
    // The stretched path: the latency, the limit in GitHub's words and the setting that moves it, whole.
    assert.equal(block('sweep'), [
      '            sweep   2 repositories, swept every 4.2 min, p95 4.0 min',
      "bound by GitHub's GraphQL server time: raise github.rateLimit.cpuPerMinute (GitHub allows 90 s) or lower the fleet",
      `why: ${projection('').reasons.sweep}`,
    ].join(' '));
    assert.equal(block('idle'), '            idle    per hour: 181 REST requests (1 of them counted by the rate limit), 30 GraphQL points');
  });

  it('--json carries the projection with its words', async () => {
    const result = await cli('projected.db', 'status', '--json');
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as { detection: Record<string, unknown> & { paths: Record<string, Record<string, unknown>> } };
    assert.deepEqual(status.detection.paths.sweep, {
      members: 2,
      intervalMs: 252_000,
      latencyMs: 240_600,
      boundBy: 'cpu-time',
      interval: '4.2 min',
      latency: '4.0 min',
      bound: "bound by GitHub's GraphQL server time: raise github.rateLimit.cpuPerMinute (GitHub allows 90 s) or lower the fleet",
      reason: projection('').reasons.sweep,
    });
    assert.equal(status.detection.paths.walk?.bound, 'set by github.issues.parseInterval: it fits every budget');
    assert.ok(Number(status.detection.projectionAgeSeconds) >= 60 && Number(status.detection.projectionAgeSeconds) < 120, String(status.detection.projectionAgeSeconds));
    assert.deepEqual(status.detection.idlePerHour, { restPrimary: 1, restRequests: 181.4, graphqlPoints: 30 });
  });

  it('says nothing of detection when no projection is stored', async () => {
    const human = await cli('never-ran.db', 'status');
    assert.equal(human.code, 0, human.stderr);
    assert.doesNotMatch(human.stdout, /^detection /m);
    assert.match(human.stdout, /^acme\/api\s+walk\s+✓/m, 'the paths recorded are still shown');
    const json = await cli('never-ran.db', 'status', '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { detection: unknown }).detection, null);
  });
});
