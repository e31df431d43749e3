/**
 * A daemon on PostgreSQL whose database stops answering: /readyz says so (503,
 * with the cause) within a heartbeat, nothing is answered while it cannot be
 * recorded, and when the server is back the daemon is ready again and answers
 * each waiting issue once. The database "goes away" by cutting a TCP relay
 * between the daemon and the server, as a network partition would.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { COMMENT_MARKER } from '../src/domain/entities.js';
import type { Simulator } from '../src/simulator/index.js';
import { startCli, tempDir } from './support/cli.js';
import { daemonConfig, simulator, waitFor } from './support/daemon.js';
import { createSchema, dropSchema, postgresMissing, POSTGRES_URL } from './support/engines.js';
import { skipUnlessAvailable } from './support/skips.js';

const PASSWORD = 'relay-pw-7Hq2-never-shown';

/** Forwards connections to the test server until cut; reopens on the same port. */
class Relay {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  async open(): Promise<void> {
    const upstream = new URL(POSTGRES_URL);
    this.#server = createServer((client) => {
      const server = connect(Number(upstream.port || 5432), upstream.hostname);
      for (const socket of [client, server]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(server).pipe(client);
    });
    await new Promise<void>((resolve) => this.#server?.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
  }

  /** Refuses new connections and drops the open ones. */
  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    this.#server = undefined;
  }

  url(schema: string): string {
    const url = new URL(POSTGRES_URL);
    url.port = String(this.port);
    url.password = PASSWORD;
    url.searchParams.set('options', `-c search_path=${schema}`);
    return url.toString();
  }
}

describe('the database stops answering (PostgreSQL)', async () => {
  const skip = skipUnlessAvailable({ what: 'PostgreSQL', missing: await postgresMissing(), requiredBy: 'AUTOSOLVE_REQUIRE_POSTGRES' });
  let dir: { path: string; cleanup: () => void };
  let schema = '';
  let sim: Simulator | undefined;
  const relay = new Relay();
  before(async () => {
    dir = tempDir();
    if (!skip) schema = await createSchema();
  });
  after(async () => {
    await relay.cut();
    await sim?.close();
    if (schema) await dropSchema(schema);
    dir.cleanup();
  });

  it('makes /readyz 503 naming the database, answers nothing meanwhile, and is ready and answers once when it is back', { skip }, async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [] }]);
    await relay.open();
    const config = daemonConfig(dir.path, sim, ['acme/api'], {
      database: { url: relay.url(schema) },
      github: { issues: { parseInterval: '1s' } },
      http: { listen: '127.0.0.1:0' },
    });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    try {
      const url = await waitFor('the HTTP endpoint', () => Promise.resolve(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output().stdout)?.[1]));
      await waitFor('/readyz ready', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));

      await relay.cut();
      const readyz = await waitFor('/readyz to say the database is gone', async () => {
        const response = await fetch(`${url}/readyz`);
        const text = await response.text();
        return response.status === 503 && /database/.test(text) ? text : undefined;
      });
      assert.match(readyz, /^not ready: the database does not answer since \d{4}-\d\d-\d\dT[\d:.]+Z: /);

      // An issue asks while the database is away: nothing can be recorded, so nothing is posted.
      const issue = sim.addIssue('acme', 'api', { title: 'Crash on start', body: 'It crashes.' });
      await waitFor('a pass that fails on the database and is retried like a network failure', () =>
        Promise.resolve(/"classification":"node"[^\n]*ECONNREFUSED/.test(daemon.output().stdout) ? true : undefined),
      );
      assert.equal(sim.comments('acme', 'api', issue.number).length, 0);
      assert.equal((await fetch(`${url}/readyz`)).status, 503);

      await relay.open();
      await waitFor('/readyz ready again', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));
      await waitFor('the answer', () => Promise.resolve(sim?.comments('acme', 'api', issue.number).some((c) => c.body.includes(COMMENT_MARKER)) ? true : undefined));
    } catch (error) {
      const { stdout, stderr } = daemon.output();
      throw new Error(`${(error as Error).message}\n${stderr.slice(-3_000)}\n${stdout.slice(-3_000)}`, { cause: error });
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.finished;
    }
    const result = await daemon.finished;
    assert.ok(!`${result.stdout}${result.stderr}`.includes(PASSWORD), 'the database password reached the output');
    assert.match(result.stdout, /the database does not answer/);
    assert.match(result.stdout, /the database answers again/);
    assert.equal(sim.comments('acme', 'api', 1).filter((c) => c.body.includes(COMMENT_MARKER)).length, 1);
  });
});
