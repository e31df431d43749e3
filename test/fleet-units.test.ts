/**
 * The fleet's work units across daemons (src/composition/fleet-units.ts), on
 * both engines: a member discovered on one daemon gets its unit and reaches the
 * other daemon's fleet at its next lease heartbeat; a member that leaves takes
 * its unit along, on every daemon.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { FleetUnits } from '../src/composition/fleet-units.js';
import { WorkLeases } from '../src/composition/work-leases.js';
import { Fleet } from '../src/domain/fleet/fleet.js';
import { DISCOVERY_UNIT, repositoryUnit } from '../src/domain/fleet/lease-share.js';
import type { DiscoveredRepository } from '../src/domain/fleet/types.js';
import { SqlFleetStore, SqlInstanceRegistry, SqlScopeSyncStore, SqlStateStore, SqlWorkLeaseStore, type Database } from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';

const log = pino({ level: 'silent' });

function listing(names: readonly string[]): DiscoveredRepository[] {
  const ids: Record<string, number> = { api: 1001, web: 1002, cli: 1003, docs: 1004 };
  return names.map((name) => ({ githubId: ids[name]!, owner: 'acme', name, private: false, htmlUrl: `https://github.com/acme/${name}`, archived: false, topics: [] }));
}

interface Daemon {
  readonly fleet: Fleet;
  readonly units: FleetUnits;
  readonly leases: WorkLeases;
  readonly registry: SqlInstanceRegistry;
}

for (const engine of await testEngines()) {
  void describe(`the fleet's units on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
    });
    afterEach(() => cleanup());

    /** A daemon's fleet, units and leases, wired as src/composition/fleet.ts wires them. */
    async function daemon(id: string): Promise<Daemon> {
      const registry = new SqlInstanceRegistry(database.db, { id, host: `host-${id}`, pid: 1 }, { version: 'test', staleAfterMs: 30_000, shared: true });
      await registry.register('test');
      const leases = new WorkLeases({ store: new SqlWorkLeaseStore(database.db, id), instances: registry, log });
      const fleet = new Fleet({ intervals: () => ({ walkMs: 60_000, sweepMs: 60_000, reconcileMs: 1_800_000 }), policy: () => ({ mode: 'walk', streamedOrganizations: new Set(), walkCapacity: 1_000 }) });
      const store = new SqlFleetStore(database.db);
      const units = new FleetUnits({
        leases,
        fleet,
        state: new SqlStateStore(database.db),
        scopes: new SqlScopeSyncStore(database.db, { maxAttempts: 3 }),
        log,
        members: async () => ({ entries: await store.members(), watermarks: await store.watermarks() }),
        streamed: () => [],
        discovers: true,
      });
      leases.subscribe({ ticked: () => units.ticked() });
      fleet.subscribe({
        added: (member) => units.joined(member.partition.repositoryId),
        removed: (member) => units.left(member.partition.repositoryId),
        renamed: () => units.changed(),
      });
      await units.loading();
      fleet.load(await store.members(), await store.watermarks());
      await units.sync();
      await leases.ensure(units.singletons());
      return { fleet, units, leases, registry };
    }

    const names = (fleet: Fleet) => [...fleet.members()].map((member) => member.partition.name).sort();

    void it('a member discovered on one daemon reaches the other at its next heartbeat, with its unit; one that leaves goes everywhere', async () => {
      const a = await daemon('a');
      const b = await daemon('b');
      await a.leases.tick();
      await b.leases.tick();
      const discoverer = a.leases.holds(DISCOVERY_UNIT) ? a : b;
      const other = discoverer === a ? b : a;
      assert.ok(!other.leases.holds(DISCOVERY_UNIT), 'discovery is held by one daemon');

      // The holder of discovery lists the organisation (as src/domain/tasks/global/discovery.ts does).
      const store = new SqlFleetStore(database.db);
      discoverer.fleet.join(await store.syncOrganization('acme', listing(['api', 'web', 'cli', 'docs'])));
      assert.deepEqual(names(other.fleet), [], 'not yet: the other daemon has not beaten');
      await discoverer.leases.tick();
      await other.leases.tick();
      assert.deepEqual(names(other.fleet), ['api', 'cli', 'docs', 'web']);
      const ids = [...other.fleet.members()].map((member) => member.partition.repositoryId);
      // A few heartbeats later the two share the members' units.
      for (let i = 0; i < 3; i++) for (const d of [a, b]) await d.leases.tick();
      for (const id of ids) assert.ok(a.leases.holds(repositoryUnit(id)) !== b.leases.holds(repositoryUnit(id)), `repo:${id} is held by exactly one`);

      // A listing without `web`: it leaves, and its unit with it, on both daemons.
      const web = ids.find((id) => other.fleet.byRepositoryId(id)?.partition.name === 'web')!;
      discoverer.fleet.join(await store.syncOrganization('acme', listing(['api', 'cli', 'docs'])));
      await discoverer.leases.tick();
      await other.leases.tick();
      assert.deepEqual(names(other.fleet), ['api', 'cli', 'docs']);
      assert.ok(!(await a.leases.units()).includes(repositoryUnit(web)), 'its unit is retired');
      assert.ok(!a.leases.holds(repositoryUnit(web)) && !b.leases.holds(repositoryUnit(web)));
    });
  });
}
