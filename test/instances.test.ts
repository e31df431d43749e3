import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { InstanceConflictError, SqlInstanceRegistry, type Database } from '../src/infra/store/index.js';
import type { Simulator } from '../src/simulator/index.js';
import { alive, gatedAgent, killGroup } from './support/agents.js';
import { runCli, startCli, tempDir } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator } from './support/daemon.js';
import { waitFor } from './support/dispatch.js';
import { freshDatabase } from './support/store.js';

const LABELLED = ['autosolve'];
const ANSWERING = { issues: { requiredLabel: 'autosolve' } };

describe('instance registry', () => {
  let database: Database;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ database, cleanup } = await freshDatabase());
  });
  afterEach(() => cleanup());

  const options = (now = () => new Date()) => ({ version: '1.2.3', staleAfterMs: 30_000, now });

  it('refuses a second daemon while the first one’s process lives on this host, naming it', async () => {
    const first = new SqlInstanceRegistry(database.db, { id: 'first', host: hostname(), pid: process.ppid }, options());
    await first.register(database.path);
    const second = new SqlInstanceRegistry(database.db, { id: 'second', host: hostname(), pid: process.pid }, options());
    await assert.rejects(second.register(database.path), (error: unknown) => {
      assert.ok(error instanceof InstanceConflictError);
      assert.match(error.message, new RegExp(`pid ${process.ppid} on host ${hostname()}`));
      assert.match(error.message, /stop the other one first/);
      return true;
    });
    assert.deepEqual((await first.list()).map((i) => i.id), ['first'], 'the refused one left nothing behind');
  });

  it('takes over the registration of a daemon whose process is gone, or whose remote heartbeat is stale', async () => {
    let clock = Date.parse('2026-06-01T00:00:00Z');
    const now = () => new Date(clock);
    const dead = new SqlInstanceRegistry(database.db, { id: 'dead', host: hostname(), pid: 999_003 }, options(now));
    await dead.register(database.path);
    const me = new SqlInstanceRegistry(database.db, { id: 'me', host: hostname(), pid: process.pid }, { ...options(now), isAlive: (pid) => pid !== 999_003 });
    await me.register(database.path);
    assert.deepEqual((await me.list()).map((i) => i.id), ['me'], 'a dead process on this host is taken over at once');
    await me.unregister();

    const remote = new SqlInstanceRegistry(database.db, { id: 'remote', host: 'other-host', pid: 1 }, options(now));
    await remote.register(database.path);
    clock += 29_000;
    await assert.rejects(me.register(database.path), /pid 1 on host other-host/, 'a remote daemon with a fresh heartbeat is live');
    clock += 2_000;
    await me.register(database.path);
    assert.deepEqual((await me.list()).map((i) => i.id), ['me']);
    assert.equal(await remote.heartbeat(), false, 'the stale daemon learns it was taken over');
  });
});

describe('autosolve run: one daemon per database, and a dead daemon’s job back at once', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  const groups: number[] = [];
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    groups.splice(0).forEach(killGroup);
    await sim?.close();
    sim = undefined;
    dir.cleanup();
  });

  it('refuses a second daemon on the same SQLite file, naming the first; status keeps working', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug' }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api']);
    const first = startCli(['run', '--config', config.file], { cwd: dir.path });
    try {
      await waitFor(() => /setup passed/.test(first.output().stdout));
      const second = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
      assert.equal(second.code, 1, second.stdout + second.stderr);
      assert.match(second.stderr, new RegExp(`another autosolve daemon is using the database .*: pid ${first.child.pid} on host ${hostname()}`));
      assert.match(second.stderr, /stop the other one first/);
      const status = await runCli(['status', '--config', config.file], { cwd: dir.path });
      assert.equal(status.code, 0, status.stderr);
    } finally {
      first.child.kill('SIGTERM');
    }
    assert.equal((await first.finished).code, 0);
    const after = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(after.code, 0, 'a daemon that stopped cleanly left no registration behind: ' + after.stderr);
  });

  it('answers with run --once the issue a daemon held when it was killed with SIGKILL', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug', labels: LABELLED }] }]);
    const agent = gatedAgent(dir.path);
    // The default lease (30 s) is far longer than this test waits.
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'command', command: { run: agent.run }, timeout: '5m' } });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    await waitFor(() => agent.started());
    groups.push(agent.pid());
    daemon.child.kill('SIGKILL');
    assert.equal((await daemon.finished).signal, 'SIGKILL');
    killGroup(agent.pid()); // the dead daemon's agent, orphaned
    await waitFor(() => !alive(agent.pid()), 5_000);
    const held = inspectDatabase(config.database, (db) => db.prepare('SELECT state, owner_pid, locked_until FROM jobs').get() as { state: string; owner_pid: number; locked_until: string });
    assert.equal(held.state, 'running');
    assert.equal(held.owner_pid, daemon.child.pid);
    assert.ok(Date.parse(held.locked_until) > Date.now() + 5_000, 'the lease has not run out');

    agent.open();
    const again = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.equal(sim.comments('acme', 'api', 1).length, 1);
    assert.match(sim.comments('acme', 'api', 1)[0]?.body ?? '', /Answer for #1/);
    const done = inspectDatabase(config.database, (db) => db.prepare('SELECT state, outcome FROM jobs').get() as { state: string; outcome: string });
    assert.deepEqual([done.state, done.outcome], ['done', 'answered']);
  });
});
