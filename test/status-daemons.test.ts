/**
 * What `status` and the dashboard say about the daemons: every registered
 * daemon with its heartbeat's age and the work units it holds, a daemon whose
 * heartbeat went stale marked, and the fleet's totals. The reader on both
 * engines, daemons registered and leases taken by the real registry and lease
 * store with injected clocks; then the real CLI against a PostgreSQL schema
 * two daemons registered in.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { INSTANCE_STALE_MS } from '../src/composition/instance-heartbeat.js';
import {
  MIGRATION_NAMES,
  openDatabase,
  readDaemons,
  SchemaMigrator,
  SqlInstanceRegistry,
  SqlWorkLeaseStore,
  type Database,
  type DaemonsStatus,
  type InstanceIdentity,
} from '../src/infra/store/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { createSchema, dropSchema, schemaUrl, testEngines } from './support/engines.js';

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

// The CLI reads the system clock: these rows are written relative to it, and leases last long enough that
// a slow start of the CLI changes no count. The ages asserted are far from any boundary.
const LONG_TTL = 3_600_000;
const MINUTE = 60_000;

/** Migrates, then lets `build` register daemons and take leases as the daemons would. */
async function buildDatabase(target: string, build: (database: Database) => Promise<void>): Promise<void> {
  const database = await openDatabase(target);
  try {
    await new SchemaMigrator(database.db, database.path).up();
    await build(database);
  } finally {
    await database.close();
  }
}

const POSTGRES_SKIP = (await testEngines()).find((engine) => engine.name === 'postgres')?.skip ?? 'no PostgreSQL engine';

/** The status `--json` prints under `daemons`. */
type DaemonsJson = DaemonsStatus & { staleAfterSeconds: number };

void describe('autosolve status shows the daemons (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  let config: string;
  before(() => {
    dir = tempDir();
    config = writeFile(dir.path, 'config.yml', ['github:', '  repositories: [acme/api]', ''].join('\n'));
  });
  after(() => dir.cleanup());

  void describe('two daemons on PostgreSQL', { skip: POSTGRES_SKIP }, () => {
    let schema = '';
    before(async () => {
      schema = await createSchema();
      await buildDatabase(schemaUrl(schema), async (database) => {
        const now = Date.now();
        await register(database, ALPHA, now);
        // beta stopped beating ten minutes ago; alpha has not yet removed its row.
        await register(database, BETA, now - 10 * MINUTE, '1.5.0');
        const alpha = new SqlWorkLeaseStore(database.db, ALPHA.id, { now: () => new Date(now) });
        await alpha.ensure(['discovery', 'repo:1', 'repo:2', 'repo:3', 'repo:4']);
        assert.deepEqual(await alpha.acquire(['discovery', 'repo:1', 'repo:2'], LONG_TTL), ['discovery', 'repo:1', 'repo:2']);
        // beta held repo:3 until its lease ran out; repo:4 was never taken.
        const beta = new SqlWorkLeaseStore(database.db, BETA.id, { now: () => new Date(now - 10 * MINUTE) });
        assert.deepEqual(await beta.acquire(['repo:3'], TTL), ['repo:3']);
      });
    });
    after(async () => {
      if (schema) await dropSchema(schema);
    });
    const cli = (...args: string[]) => runCli([...args, '--config', config], { cwd: dir.path, env: { DATABASE_URL: schemaUrl(schema) } });

    void it('prints a line per daemon after the queue, the stale one marked, and the totals', async () => {
      const result = await cli('status');
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.split('\n');
      // The database line is printed whole (a cut path is useless to copy); every other fits 80 columns.
      for (const line of lines.slice(1)) assert.ok([...line].length <= 80, `too wide: ${line}`);
      const at = lines.findIndex((line) => line.startsWith('daemons '));
      assert.ok(at > lines.findIndex((line) => line.startsWith('queue ')), `the daemons follow the queue:\n${result.stdout}`);
      // Oldest first: beta started ten minutes before alpha.
      assert.match(lines[at] ?? '', /^daemons {5}beta {3}pid 202 {2}1\.5\.0 {2}heartbeat 10m ago {2,}0 leases \(stale\)$/);
      assert.match(lines[at + 1] ?? '', /^ {12}alpha {2}pid 101 {2}1\.4\.0 {2}heartbeat \d+s ago {2,}3 leases$/);
      assert.equal(lines[at + 2], `${' '.repeat(12)}2 daemons, 1 live; 5 work units, 3 held, 2 waiting for a daemon`);
    });

    void it('gives the same in --json under daemons', async () => {
      const result = await cli('status', '--json');
      assert.equal(result.code, 0, result.stderr);
      const { daemons } = JSON.parse(result.stdout) as { daemons: DaemonsJson };
      assert.equal(daemons.staleAfterSeconds, INSTANCE_STALE_MS / 1000);
      assert.deepEqual(
        daemons.daemons.map((d) => ({ id: d.id, host: d.host, pid: d.pid, version: d.version, live: d.live, leases: d.leases, units: d.units })),
        [
          { ...BETA, version: '1.5.0', live: false, leases: 0, units: [] },
          { ...ALPHA, version: '1.4.0', live: true, leases: 3, units: ['discovery', 'repo:1', 'repo:2'] },
        ],
      );
      const beta = daemons.daemons[0];
      assert.ok(beta && beta.heartbeatAgeSeconds >= 600 && beta.heartbeatAgeSeconds < 3600, `beta's heartbeat is ten minutes old: ${beta?.heartbeatAgeSeconds}`);
      assert.deepEqual(daemons.units, { total: 5, held: 3, orphaned: 2 });
      assert.deepEqual(daemons.repositories, { total: 4, held: 2 });
    });
  });

  void describe('one daemon on SQLite', () => {
    let file = '';
    let sqliteConfig = '';
    before(async () => {
      file = join(dir.path, 'one.db');
      sqliteConfig = writeFile(dir.path, 'sqlite.yml', ['database:', `  sqlitePath: ${file}`, 'github:', '  repositories: [acme/api]', ''].join('\n'));
      await buildDatabase(file, async (database) => {
        const now = Date.now();
        // As `run` registers on SQLite: one daemon per file, which holds every unit.
        await new SqlInstanceRegistry(database.db, ALPHA, { version: '1.4.0', staleAfterMs: INSTANCE_STALE_MS, now: () => new Date(now) }).register(database.path);
        const leases = new SqlWorkLeaseStore(database.db, ALPHA.id, { now: () => new Date(now) });
        await leases.ensure(['discovery', 'repo:1', 'repo:2']);
        await leases.acquire(3, LONG_TTL);
      });
    });
    const cli = (...args: string[]) => runCli([...args, '--config', sqliteConfig], { cwd: dir.path });

    void it('is one short line', async () => {
      const result = await cli('status');
      assert.equal(result.code, 0, result.stderr);
      const section = result.stdout.split('\n').filter((line) => /^daemons? /.test(line) || /daemon|lease/.test(line));
      assert.equal(section.length, 1, result.stdout);
      assert.match(section[0] ?? '', /^daemons {5}alpha, pid 101, 1\.4\.0, heartbeat \d+s ago, holds all 3 work units$/);
    });

    void it('says no daemon is running once it stopped, and what waits for one', async () => {
      await buildDatabase(file, async (database) => {
        await new SqlInstanceRegistry(database.db, ALPHA, { version: '1.4.0', staleAfterMs: INSTANCE_STALE_MS }).unregister();
        await new SqlWorkLeaseStore(database.db, ALPHA.id).releaseAll();
      });
      const result = await cli('status');
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^daemons {5}no daemon running; 3 work units waiting for a daemon$/m);
    });
  });
});
