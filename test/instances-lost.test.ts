import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import type { Simulator } from '../src/simulator/index.js';
import { startCli, tempDir } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator } from './support/daemon.js';
import { waitFor } from './support/dispatch.js';

describe('autosolve run: a daemon that loses its registration stops', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    dir.cleanup();
  });

  it('exits 1 naming the daemon that took its registration over, and leaves that one’s registration alone', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Bug' }] }]);
    const config = daemonConfig(dir.path, sim, ['acme/api']);
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    try {
      await waitFor(() => /setup passed/.test(daemon.output().stdout));
      // What a second daemon does when it finds this one's heartbeat stale: removes its row, registers itself.
      const sqlite = new BetterSqlite3(config.database);
      try {
        sqlite.pragma('busy_timeout = 5000');
        const now = new Date().toISOString();
        sqlite.transaction(() => {
          sqlite.prepare('DELETE FROM instances').run();
          sqlite.prepare(`INSERT INTO instances (id, host, pid, version, started_at, heartbeat_at) VALUES ('usurper', 'other-host', 4242, '0.1.0', ?, ?)`).run(now, now);
        })();
      } finally {
        sqlite.close();
      }
      // The heartbeat (every 5 s) finds its row gone; the deadline keeps a daemon that ignores it from hanging the test.
      await waitFor(() => daemon.child.exitCode !== null, 30_000);
      const result = await daemon.finished;
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, new RegExp(`this daemon \\(pid ${daemon.child.pid} on host .*\\) lost its registration in the database .*autosolve\\.db: another daemon, pid 4242 on host other-host`));
      assert.match(result.stderr, /stopped taking work and shut down/);
      assert.match(result.stderr, /then start this one again/);
    } finally {
      daemon.child.kill('SIGKILL');
    }
    const left = inspectDatabase(config.database, (db) => db.prepare('SELECT id FROM instances').all());
    assert.deepEqual(left, [{ id: 'usurper' }], 'the daemon that took over keeps its registration');
  });
});
