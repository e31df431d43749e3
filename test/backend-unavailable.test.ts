/**
 * A model server that is down must not look healthy: when the backend fails
 * every job (connection refused, 5xx for everyone) the dispatcher pauses as
 * `unavailable` with the cause, which shows in status, jobs show, /readyz and
 * the metric, spends no attempt, and clears once the server answers again.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, startCli, tempDir } from './support/cli.js';
import { daemonConfig, jobsOf, simulator, statusJson, waitFor } from './support/daemon.js';
import { modelServer, ollamaAnswer } from './support/model-server.js';

const LABELLED = ['autosolve'];
const ANSWERING = { issues: { requiredLabel: 'autosolve' } };

/** An address where nothing listens: a port just given back by the system. */
async function refusingAddress(): Promise<string> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise((resolve) => probe.close(resolve));
  return url;
}

describe('a model server that is down', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  let model: Server | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    if (model) {
      model.closeAllConnections();
      await new Promise((resolve) => model!.close(resolve));
    }
    model = undefined;
    dir.cleanup();
  });

  it('an unreachable Ollama pauses the dispatcher as unavailable with the cause: status and jobs show say so, no attempt is spent, and the next run clears it', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2].map((n) => ({ title: `Bug ${n}`, labels: LABELLED })) }]);
    const dead = await refusingAddress();
    const settings = (endpoint: string) => ({ github: ANSWERING, ai: { provider: 'ollama', maxAttempts: 1 }, ollama: { endpoint, model: 'llama3.1' }, scheduler: { setupBudget: '3s' } });
    const config = daemonConfig(dir.path, sim, ['acme/api'], settings(dead));

    const paused = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(paused.code, 1, paused.stdout + paused.stderr);
    const jobs = jobsOf(config.database);
    assert.deepEqual(jobs.map((j) => [j.state, j.attempts]), [['pending', 0], ['pending', 0]], 'nothing dead, no attempt spent');
    assert.match(jobs[0]?.last_error ?? '', /cannot reach http:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/, 'the released job records why');

    const status = await runCli(['status', '--config', config.file], { cwd: dir.path });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^dispatcher {2}PAUSED \(unavailable\) since \d+s ago; jobs wait, no attempt spent$/m);
    assert.match(status.stdout.replace(/\n {12}/g, ' '), /cannot reach http:\/\/127\.0\.0\.1:\d+.*ECONNREFUSED/);
    const json = await statusJson(config.file, dir.path);
    assert.equal(json.dispatcher.reason, 'unavailable');
    assert.match(json.dispatcher.message ?? '', new RegExp(`cannot reach ${dead.replace(/[.]/g, '\\.')}.*ECONNREFUSED`));

    const shown = await runCli(['jobs', 'show', String(jobs[0]?.id), '--config', config.file], { cwd: dir.path });
    assert.equal(shown.code, 0, shown.stderr);
    assert.doesNotMatch(shown.stdout, /last error +-$/m);
    assert.match(shown.stdout.replace(/\s+/g, ' '), /last error .*ECONNREFUSED/);
    assert.match(shown.stdout, /dispatcher {2}PAUSED \(unavailable\)/);

    // The server is up: the next run answers both and the pause is gone.
    const ollama = await modelServer(() => ollamaAnswer('Look at the parser.'));
    model = ollama.server;
    daemonConfig(dir.path, sim, ['acme/api'], settings(ollama.url));
    const resumed = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path });
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /dispatcher resumed: the unavailable failure/);
    assert.deepEqual(jobsOf(config.database).map((j) => [j.outcome, j.last_error]), [['answered', null], ['answered', null]]);
    assert.equal((await statusJson(config.file, dir.path)).dispatcher.paused, false);
  });

  it('an Ollama answering 500 to every job makes a running daemon not ready: /readyz is 503 with the cause and the metric says unavailable, until it answers', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [1, 2].map((n) => ({ title: `Bug ${n}`, labels: LABELLED })) }]);
    let healthy = false;
    const ollama = await modelServer(() => (healthy ? ollamaAnswer('Look at the parser.') : { status: 500, body: { error: 'llama runner process has terminated' } }));
    model = ollama.server;
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: ANSWERING, ai: { provider: 'ollama' }, ollama: { endpoint: ollama.url, model: 'llama3.1' }, http: { listen: '127.0.0.1:0' } });
    const daemon = startCli(['run', '--config', config.file], { cwd: dir.path });
    try {
      const url = await waitFor('the HTTP endpoint', () => Promise.resolve(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output().stdout)?.[1]));
      const readyz = await waitFor('/readyz to say paused', async () => {
        const response = await fetch(`${url}/readyz`);
        const text = await response.text();
        return response.status === 503 && /paused/.test(text) ? text : undefined;
      });
      assert.match(readyz, /^not ready: the dispatcher is paused \(unavailable\) since .*HTTP 500: llama runner process has terminated/);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^autosolve_dispatcher_paused\{reason="unavailable"\} 1$/m);
      const snapshot = (await (await fetch(`${url}/api/status`)).json()) as { dispatcherPause: { reason: string; message: string } | null };
      assert.equal(snapshot.dispatcherPause?.reason, 'unavailable');
      const json = await statusJson(config.file, dir.path);
      assert.equal(json.dispatcher.reason, 'unavailable');
      assert.match(json.dispatcher.message ?? '', /HTTP 500/);
      assert.ok(jobsOf(config.database).every((j) => j.state !== 'dead' && j.outcome === null));

      healthy = true;
      await waitFor('/readyz to be ready again', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined), 90_000);
      assert.match(await (await fetch(`${url}/metrics`)).text(), /^autosolve_dispatcher_paused\{reason="unavailable"\} 0$/m);
      await waitFor('both answers', () => Promise.resolve(jobsOf(config.database).every((j) => j.outcome === 'answered') ? true : undefined));
      assert.equal((await statusJson(config.file, dir.path)).dispatcher.paused, false);
    } finally {
      daemon.child.kill('SIGTERM');
      await daemon.finished;
    }
  });
});
