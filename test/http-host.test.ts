/**
 * The HTTP endpoint against DNS rebinding: a page on an attacker's domain that
 * re-resolves to 127.0.0.1 reaches the dashboard with its own name in `Host`.
 * Raw requests over a socket, so the test decides exactly which Host is sent.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Log } from '../src/domain/ports.js';
import type { DashboardSnapshot } from '../src/infra/telemetry/dashboard.js';
import { startHttpServer, type RunningHttpServer } from '../src/infra/telemetry/http-server.js';
import { DaemonMetrics } from '../src/infra/telemetry/metrics.js';

const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLog };

const snapshot: DashboardSnapshot = {
  generatedAt: '2026-03-01T12:00:00.000Z',
  ready: true,
  repositories: [
    { repository: 'acme/private-repo', validated: true, lastPolledAt: '2026-03-01T11:59:30.000Z', lastError: null, issues: 2, jobs: { pending: 1, running: 0, done: 3, dead: 0 } },
  ],
  queue: { pending: 1, running: 0, done: 3, dead: 0 },
  rateLimit: { limit: 100, remaining: 97, resetAt: 1_772_370_000 },
  latestComments: [],
};

interface RawResponse {
  status: number;
  head: string;
  body: string;
}

/** One request exactly as written: `host` null sends no Host header at all (HTTP/1.0 allows that). */
function raw(port: number, { method = 'GET', path = '/api/status', host }: { method?: string; path?: string; host: string | null }): Promise<RawResponse> {
  const version = host === null ? 'HTTP/1.0' : 'HTTP/1.1';
  const lines = [`${method} ${path} ${version}`, ...(host === null ? [] : [`Host: ${host}`]), 'Connection: close', '', ''];
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split);
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]), head, body: text.slice(split + 4) });
    });
    socket.write(lines.join('\r\n'));
  });
}

void describe('HTTP endpoint Host check (DNS rebinding)', () => {
  let server: RunningHttpServer;
  let port = 0;
  before(async () => {
    server = await startHttpServer({
      listen: '127.0.0.1:0',
      metrics: new DaemonMetrics({ queueCounts: async () => ({ pending: 1, running: 0, done: 3, dead: 0 }) }),
      health: () => ({ alive: true, ready: true }),
      dashboard: { snapshot: async () => snapshot },
      log: silentLog,
    });
    port = Number(new URL(server.url).port);
  });
  after(() => server.close());

  void it('refuses a foreign Host with 421 and no data, on every path', async () => {
    const foreign = ['attacker.example', `attacker.example:${port}`, `127.0.0.1.attacker.example:${port}`, `localhost.attacker.example:${port}`, `evil.localhost.example`, ''];
    for (const host of foreign) {
      for (const path of ['/', '/api/status', '/metrics', '/healthz', '/readyz', '/no-such-page']) {
        const response = await raw(port, { path, host });
        assert.equal(response.status, 421, `${host} ${path}: ${response.head}`);
        assert.doesNotMatch(response.body, /acme|private-repo|autosolve_|process_|ready|ok/, `${host} ${path} leaked data: ${response.body}`);
      }
    }
  });

  void it('refuses a request that names no Host at all', async () => {
    const response = await raw(port, { host: null });
    assert.equal(response.status, 421, response.head);
    assert.doesNotMatch(response.body, /private-repo/);
  });

  void it('answers the listen address, localhost, 127.0.0.1, [::1] and other IP literals, with or without the port', async () => {
    const allowed = [`127.0.0.1:${port}`, '127.0.0.1', `localhost:${port}`, 'LocalHost', `[::1]:${port}`, '[::1]', `192.168.1.20:${port}`];
    for (const host of allowed) {
      const response = await raw(port, { host });
      assert.equal(response.status, 200, `${host}: ${response.head}`);
      assert.match(response.body, /private-repo/);
    }
  });

  void it('stays read-only whatever the Host: other methods get 405 from this server and 421 from a foreign one', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const local = await raw(port, { method, host: `127.0.0.1:${port}` });
      assert.equal(local.status, 405, `${method}: ${local.head}`);
      assert.match(local.head, /\r\nallow: GET, HEAD/i);
      const foreign = await raw(port, { method, host: 'attacker.example' });
      assert.equal(foreign.status, 421, `${method} foreign: ${foreign.head}`);
    }
  });
});
