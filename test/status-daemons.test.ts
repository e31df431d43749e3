/**
 * What `status` and the dashboard say about the daemons: every registered
 * daemon with its heartbeat's age and the work units it holds, a daemon whose
 * heartbeat went stale marked, and the fleet's totals. The reader on both
 * engines, daemons registered and leases taken by the real registry and lease
 * store with injected clocks; then the real CLI against a PostgreSQL schema
 * two daemons registered in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { INSTANCE_STALE_MS } from '../src/composition/instance-heartbeat.js';
import {
  MIGRATION_NAMES,
  readDaemons,
  SchemaMigrator,
  SqlInstanceRegistry,
  SqlWorkLeaseStore,
  type Database,
  type DaemonsStatus,
  type InstanceIdentity,
} from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const TTL = 15_000;
const SECOND = 1_000;

const ALPHA: InstanceIdentity = { id: 'daemon-a', host: 'alpha', pid: 101 };
const BETA: InstanceIdentity = { id: 'daemon-b', host: 'beta', pid: 202 };
const GAMMA: InstanceIdentity = { id: 'daemon-c', host: 'gamma', pid: 303 };

/** Registers a daemon as `run` does, its clock at `at`; `shared` lets several register, as on PostgreSQL. */
async function register(database: Database, self: InstanceIdentity, at: number, version = '1.4.0'): Promise<void> {
  const registry = new SqlInstanceRegistry(database.db, self, { version, staleAfterMs: INSTANCE_STALE_MS, shared: true, now: () => new Date(at) });
  await registry.register(database.path);
}

async function take(database: Database, owner: string, units: readonly string[], at: number): Promise<void> {
  const leases = new SqlWorkLeaseStore(database.db, owner, { now: () => new Date(at) });
  assert.deepEqual(await leases.acquire(units, TTL), [...units].sort(), `${owner} takes ${units.join(', ')}`);
}

const repos = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `repo:${from + i}`);
const UNITS = ['discovery', 'stream:acme', ...repos(1, 9)];

/**
 * alpha holds discovery and seven repositories, beta the stream; gamma's
 * heartbeat stopped 45 s before T0, and the repository it held ran out; repo:9
 * was never taken.
 */
async function threeDaemons(database: Database): Promise<void> {
  // gamma last: a shared registration removes the stale ones it sees, and gamma's clock is behind.
  await register(database, ALPHA, T0);
  await register(database, BETA, T0, '1.5.0');
  await register(database, GAMMA, T0 - 45 * SECOND);
  await new SqlWorkLeaseStore(database.db, ALPHA.id, { now: () => new Date(T0) }).ensure(UNITS);
  await take(database, ALPHA.id, ['discovery', ...repos(1, 7)], T0);
  await take(database, BETA.id, ['stream:acme'], T0);
  await take(database, GAMMA.id, ['repo:8'], T0 - 45 * SECOND);
}

for (const engine of await testEngines()) {
  void describe(`readDaemons on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ database, cleanup } = await engine.fresh());
    });
    after(() => cleanup());

    void it('says no daemon and no unit on a database no daemon ran on', async () => {
      const status = await readDaemons(database.db, new Date(T0), { staleAfterMs: INSTANCE_STALE_MS });
      assert.deepEqual(status, { daemons: [], units: { total: 0, held: 0, orphaned: 0 }, repositories: { total: 0, held: 0 } } satisfies DaemonsStatus);
    });

    void it('lists every daemon with its heartbeat age and leases, marks the stale one, and totals the units', async () => {
      await threeDaemons(database);
      const status = await readDaemons(database.db, new Date(T0 + 2 * SECOND), { staleAfterMs: INSTANCE_STALE_MS });
      const started = new Date(T0).toISOString();
      assert.deepEqual(status.daemons, [
        {
          ...GAMMA,
          version: '1.4.0',
          startedAt: new Date(T0 - 45 * SECOND).toISOString(),
          heartbeatAt: new Date(T0 - 45 * SECOND).toISOString(),
          heartbeatAgeSeconds: 47,
          live: false,
          leases: 0,
          units: [],
        },
        { ...ALPHA, version: '1.4.0', startedAt: started, heartbeatAt: started, heartbeatAgeSeconds: 2, live: true, leases: 8, units: ['discovery', 'repo:1', 'repo:2', 'repo:3', 'repo:4'] },
        { ...BETA, version: '1.5.0', startedAt: started, heartbeatAt: started, heartbeatAgeSeconds: 2, live: true, leases: 1, units: ['stream:acme'] },
      ]);
      // repo:8's lease ran out (its holder is gone) and repo:9 was never taken: both wait for a daemon.
      assert.deepEqual(status.units, { total: 11, held: 9, orphaned: 2 });
      assert.deepEqual(status.repositories, { total: 9, held: 7 });
    });

    void it('counts a lease that ran out as waiting, not held, and a daemon as stale from INSTANCE_STALE_MS on', async () => {
      const justLive = await readDaemons(database.db, new Date(T0 + INSTANCE_STALE_MS - 1), { staleAfterMs: INSTANCE_STALE_MS });
      assert.deepEqual(justLive.daemons.map((d) => [d.id, d.live, d.leases]), [[GAMMA.id, false, 0], [ALPHA.id, true, 0], [BETA.id, true, 0]]);
      assert.deepEqual(justLive.units, { total: 11, held: 0, orphaned: 11 }, 'every lease taken at T0 ran out at T0 + 15 s');
      assert.deepEqual(justLive.repositories, { total: 9, held: 0 });
      const stale = await readDaemons(database.db, new Date(T0 + INSTANCE_STALE_MS), { staleAfterMs: INSTANCE_STALE_MS });
      assert.deepEqual(stale.daemons.map((d) => d.live), [false, false, false]);
    });

    void it('shows the daemons without lease counts on a database from before work leases (migration 010)', async () => {
      const migrator = new SchemaMigrator(database.db, database.path);
      await migrator.down(MIGRATION_NAMES.length - MIGRATION_NAMES.indexOf('010-work-leases'));
      try {
        const status = await readDaemons(database.db, new Date(T0 + 2 * SECOND), { staleAfterMs: INSTANCE_STALE_MS });
        assert.deepEqual(status.daemons.map((d) => [d.host, d.leases, d.units]), [['gamma', 0, []], ['alpha', 0, []], ['beta', 0, []]]);
        assert.equal(status.units, null);
        assert.equal(status.repositories, null);
      } finally {
        await migrator.up();
      }
    });
  });
}
