/**
 * Work units under leases (decision 010): the store (SqlWorkLeaseStore) and the
 * heartbeat (WorkLeases) of two or three daemons on one real database, on both
 * engines, time injected and each daemon's heartbeat a call, so a TTL passes
 * without waiting.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { WorkLeases } from '../src/composition/work-leases.js';
import { repositoryUnit } from '../src/domain/fleet/lease-share.js';
import { SqlInstanceRegistry, SqlWorkLeaseStore, type Database } from '../src/infra/store/index.js';
import { testEngines } from './support/engines.js';

const TTL = 15_000;
const BEAT = 5_000;
const log = pino({ level: 'silent' });

let database: Database;
let now: number;
const clock = () => new Date(now);

function repos(count: number): string[] {
  return Array.from({ length: count }, (_, i) => repositoryUnit(i + 1));
}

/** A daemon: its registration, its heartbeat and what its listeners heard. */
interface Daemon {
  readonly id: string;
  readonly registry: SqlInstanceRegistry;
  readonly leases: WorkLeases;
  readonly acquired: string[];
  readonly lost: string[];
}

async function daemon(id: string): Promise<Daemon> {
  // Another host each, so liveness is the heartbeat's age (the pid check is for daemons of this host).
  const registry = new SqlInstanceRegistry(database.db, { id, host: `host-${id}`, pid: 1 }, { version: 'test', staleAfterMs: 30_000, shared: true, now: clock });
  await registry.register('test.db');
  const leases = new WorkLeases({ store: new SqlWorkLeaseStore(database.db, id, { now: clock }), instances: registry, log, ttlMs: TTL, intervalMs: BEAT, now: () => now });
  const heard: Daemon = { id, registry, leases, acquired: [], lost: [] };
  leases.subscribe({ acquired: (units) => heard.acquired.push(...units), lost: (units) => heard.lost.push(...units) });
  return heard;
}

/** Each daemon beats (registration and leases) in turn; then checks no unit is held by two; then time moves on. */
async function round(daemons: readonly Daemon[]): Promise<void> {
  for (const d of daemons) {
    await d.registry.heartbeat();
    await d.leases.tick();
  }
  assertSingleHolders(daemons);
  now += BEAT;
}

function assertSingleHolders(daemons: readonly Daemon[]): void {
  const holders = new Map<string, string>();
  for (const d of daemons) {
    for (const unit of d.leases.held()) {
      assert.equal(holders.get(unit), undefined, `${unit} is held by ${holders.get(unit)} and ${d.id} at once`);
      holders.set(unit, d.id);
    }
  }
}

function counts(daemons: readonly Daemon[]): number[] {
  return daemons.map((d) => [...d.leases.held()].filter((unit) => unit.startsWith('repo:')).length);
}

for (const engine of await testEngines()) {
  void describe(`work leases on ${engine.name}`, { skip: engine.skip }, () => {
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ database, cleanup } = await engine.fresh());
      now = Date.parse('2026-03-01T12:00:00.000Z');
    });
    afterEach(() => cleanup());

    void describe('SqlWorkLeaseStore', () => {
      void it('gives each unit to one owner when several take at once', async () => {
        const owners = ['a', 'b', 'c', 'd'].map((id) => new SqlWorkLeaseStore(database.db, id, { now: clock }));
        await owners[0]!.ensure(repos(200));
        const taken = await Promise.all(owners.map((owner, i) => (i % 2 === 0 ? owner.acquire(repos(200), TTL) : owner.acquire(200, TTL))));
        const all = taken.flat();
        assert.equal(all.length, 200, 'every unit taken');
        assert.equal(new Set(all).size, 200, 'none taken twice');
        const holdings = await owners[0]!.holdings();
        assert.deepEqual(
          owners.map((owner) => holdings.get(owner.owner) ?? 0),
          taken.map((units) => units.length),
        );
      });

      void it('takes a free unit once: another owner cannot take it while the lease runs, and takes it (a new fence) once it ran out', async () => {
        const a = new SqlWorkLeaseStore(database.db, 'a', { now: clock });
        const b = new SqlWorkLeaseStore(database.db, 'b', { now: clock });
        await a.ensure(['discovery', 'repo:1']);
        await b.ensure(['discovery', 'repo:1', 'repo:2']);
        assert.deepEqual((await a.list()).map((lease) => lease.unit), ['discovery', 'repo:1', 'repo:2']);

        assert.deepEqual(await a.acquire(['discovery', 'repo:1'], TTL), ['discovery', 'repo:1']);
        assert.deepEqual(await b.acquire(['discovery', 'repo:1', 'repo:2'], TTL), ['repo:2']);
        now += TTL - 1;
        assert.deepEqual(await b.acquire(['discovery'], TTL), [], 'a lease still running is not taken');
        now += 1;
        assert.deepEqual(await b.acquire(['discovery'], TTL), ['discovery']);
        const discovery = (await a.list()).find((lease) => lease.unit === 'discovery')!;
        assert.equal(discovery.owner, 'b');
        assert.equal(discovery.fence, 2);
        assert.deepEqual(await a.renew(TTL), ['repo:1'], 'the renewal says which units a still holds: discovery was lost');
      });

      void it('renews what it holds, so the lease does not run out while renewed', async () => {
        const a = new SqlWorkLeaseStore(database.db, 'a', { now: clock });
        const b = new SqlWorkLeaseStore(database.db, 'b', { now: clock });
        await a.ensure(['repo:1']);
        await a.acquire(['repo:1'], TTL);
        for (let i = 0; i < 10; i++) {
          now += BEAT;
          assert.deepEqual(await a.renew(TTL), ['repo:1']);
          assert.deepEqual(await b.acquire(['repo:1'], TTL), []);
        }
      });

      void it('releases units at once, all of them on a graceful stop, and never a unit another owner holds', async () => {
        const a = new SqlWorkLeaseStore(database.db, 'a', { now: clock });
        const b = new SqlWorkLeaseStore(database.db, 'b', { now: clock });
        await a.ensure(repos(4));
        await a.acquire(repos(3), TTL);
        await b.acquire(['repo:4'], TTL);
        await a.release(['repo:1', 'repo:4']);
        assert.deepEqual(await b.acquire(['repo:1'], TTL), ['repo:1']);
        assert.deepEqual(await b.renew(TTL), ['repo:1', 'repo:4'], "a's release did not touch b's unit");
        assert.deepEqual(await a.releaseAll(), ['repo:2', 'repo:3']);
        assert.deepEqual(await b.acquire(['repo:2', 'repo:3'], TTL), ['repo:2', 'repo:3']);
        assert.deepEqual(Object.fromEntries(await a.holdings()), { b: 4 });
      });

      void it('takes up to a count of any free or expired units, and counts only running leases per owner', async () => {
        const a = new SqlWorkLeaseStore(database.db, 'a', { now: clock });
        const b = new SqlWorkLeaseStore(database.db, 'b', { now: clock });
        await a.ensure(repos(5));
        assert.equal((await a.acquire(3, TTL)).length, 3);
        assert.equal((await b.acquire(5, TTL)).length, 2);
        assert.deepEqual(Object.fromEntries(await a.holdings()), { a: 3, b: 2 });
        now += TTL;
        await b.renew(TTL);
        assert.deepEqual(Object.fromEntries(await a.holdings()), { b: 2 }, "a's leases ran out");
        assert.equal((await b.acquire(5, TTL)).length, 3);
      });

      void it('retires units: a holder finds them gone at its next renewal', async () => {
        const a = new SqlWorkLeaseStore(database.db, 'a', { now: clock });
        await a.ensure(repos(3));
        await a.acquire(repos(3), TTL);
        await a.retire(['repo:2']);
        assert.deepEqual(await a.renew(TTL), ['repo:1', 'repo:3']);
        assert.deepEqual((await a.list()).map((lease) => lease.unit), ['repo:1', 'repo:3']);
      });
    });

    void describe('SqlInstanceRegistry on a shared database', () => {
      void it('registers any number of daemons, and removes one whose heartbeat went stale at the next heartbeat', async () => {
        const options = { version: 'test', staleAfterMs: 30_000, shared: true, now: clock };
        const a = new SqlInstanceRegistry(database.db, { id: 'a', host: 'host-a', pid: 1 }, options);
        const b = new SqlInstanceRegistry(database.db, { id: 'b', host: 'host-b', pid: 1 }, options);
        await a.register('test.db');
        await b.register('test.db');
        assert.deepEqual((await a.list()).map((instance) => instance.id).sort(), ['a', 'b']);
        assert.deepEqual((await a.liveOthers()).map((instance) => instance.id), ['b']);
        now += 29_000;
        assert.equal(await a.heartbeat(), true);
        assert.deepEqual((await a.list()).map((instance) => instance.id).sort(), ['a', 'b'], 'b is not stale yet');
        now += 1_000;
        assert.equal(await a.heartbeat(), true);
        assert.deepEqual((await a.list()).map((instance) => instance.id), ['a']);
        assert.equal(await b.heartbeat(), false, 'b finds its registration gone');
      });
    });

    void describe('WorkLeases', () => {
      void it('a lone daemon holds every unit after one heartbeat, and hears each acquisition', async () => {
        const a = await daemon('a');
        await a.leases.ensure(['discovery', 'stream:acme', ...repos(20)]);
        await round([a]);
        assert.equal(a.leases.held().size, 22);
        assert.equal(a.acquired.length, 22);
        assert.ok(a.leases.holds('discovery'));
      });

      void it('three daemons share the units evenly, with no unit held by two at any heartbeat', async () => {
        const daemons = [await daemon('a'), await daemon('b'), await daemon('c')];
        await daemons[0]!.leases.ensure(['discovery', 'stream:acme', 'stream:beta', ...repos(90)]);
        for (let i = 0; i < 4; i++) await round(daemons);
        assert.deepEqual(counts(daemons), [30, 30, 30]);
        assert.deepEqual(daemons.map((d) => d.leases.held().size), [31, 31, 31], 'one singleton each');
      });

      void it("takes a killed daemon's units once its leases run out (15 to 20 s), and reports them lost to it when it wakes", async () => {
        const [a, b, c] = [await daemon('a'), await daemon('b'), await daemon('c')];
        await a.leases.ensure(repos(90));
        for (let i = 0; i < 4; i++) await round([a, b, c]);
        const cUnits = [...c.leases.held()].sort();
        assert.equal(cUnits.length, 30);

        // c stops beating (kill -9, or a stall). Before its leases run out nobody takes them.
        const killedAt = now;
        await round([a, b]);
        await round([a, b]);
        assert.equal(counts([a, b]).reduce((x, y) => x + y), 60, 'its leases still run: nothing taken yet');
        while (counts([a, b]).reduce((x, y) => x + y) < 90) {
          assert.ok(now - killedAt <= 20_000 + BEAT, `c's units were not all taken ${now - killedAt} ms after its last heartbeat`);
          await round([a, b]);
        }
        assert.ok(now - killedAt >= TTL, 'not before the TTL');
        for (let i = 0; i < 2; i++) await round([a, b]);
        assert.deepEqual(counts([a, b]), [45, 45]);

        // c was only stalled: its next heartbeat finds every unit gone, and says so.
        await c.leases.tick();
        assert.deepEqual([...c.lost].sort(), cUnits);
        assert.equal(c.leases.held().size, 0);
        assertSingleHolders([a, b, c]);
      });

      void it("takes at once the units of a daemon whose registration is gone (its pid dead on this host, removed when the next one registered)", async () => {
        // One host: the dead daemon's pid no longer exists, so registering the next one removes its row.
        const alive = new Set([101, 202]);
        const registryOf = (id: string, pid: number) =>
          new SqlInstanceRegistry(database.db, { id, host: 'one-host', pid }, { version: 'test', staleAfterMs: 30_000, shared: engine.name === 'postgres', now: clock, isAlive: (p) => alive.has(p) });
        const first = registryOf('first', 101);
        await first.register('test.db');
        const firstLeases = new WorkLeases({ store: new SqlWorkLeaseStore(database.db, 'first', { now: clock }), instances: first, log, ttlMs: TTL, intervalMs: BEAT, now: () => now });
        await firstLeases.ensure(['discovery', ...repos(10)]);
        await firstLeases.tick();
        assert.equal(firstLeases.held().size, 11);

        // kill -9: no release. The next daemon on the host starts a moment later.
        alive.delete(101);
        now += 1_000;
        const second = registryOf('second', 202);
        await second.register('test.db');
        const secondLeases = new WorkLeases({ store: new SqlWorkLeaseStore(database.db, 'second', { now: clock }), instances: second, log, ttlMs: TTL, intervalMs: BEAT, now: () => now });
        await secondLeases.tick();
        assert.equal(secondLeases.held().size, 11, 'the dead daemon\'s units are taken at the first heartbeat, not a TTL later');
      });

      void it('a graceful stop hands every unit over at the next heartbeat of the others, without waiting for a TTL', async () => {
        const [a, b, c] = [await daemon('a'), await daemon('b'), await daemon('c')];
        await a.leases.ensure(repos(90));
        for (let i = 0; i < 4; i++) await round([a, b, c]);
        await c.leases.stop();
        await c.registry.unregister();
        assert.deepEqual([...c.lost].length, 30, 'its listeners heard every unit go');
        await round([a, b]);
        assert.deepEqual(counts([a, b]), [45, 45]);
      });

      void it('a returning daemon gets its fair share from the others, and then nothing moves', async () => {
        const [a, b] = [await daemon('a'), await daemon('b')];
        await a.leases.ensure(repos(10));
        for (let i = 0; i < 3; i++) await round([a, b]);
        assert.deepEqual(counts([a, b]), [5, 5]);
        const c = await daemon('c');
        for (let i = 0; i < 3; i++) await round([a, b, c]);
        assert.deepEqual(counts([a, b, c]).sort(), [3, 3, 4]);
        assert.ok(a.lost.length > 0 && b.lost.length > 0, 'both gave up units for it');
        const moves = [a, b, c].map((d) => d.acquired.length + d.lost.length);
        for (let i = 0; i < 5; i++) await round([a, b, c]);
        assert.deepEqual(
          [a, b, c].map((d) => d.acquired.length + d.lost.length),
          moves,
          'a balanced fleet moves no unit',
        );
      });

      void it('a retired unit is dropped by its holder, and a unit that leaves and comes back is taken again', async () => {
        const [a, b] = [await daemon('a'), await daemon('b')];
        await a.leases.ensure(repos(4));
        for (let i = 0; i < 3; i++) await round([a, b]);
        const unit = [...b.leases.held()][0]!;
        await a.leases.retire([unit]);
        await round([a, b]);
        assert.ok(!b.leases.holds(unit) && b.lost.includes(unit));
        await b.leases.ensure([unit]);
        await round([a, b]);
        assert.ok(a.leases.holds(unit) || b.leases.holds(unit));
      });
    });
  });
}
