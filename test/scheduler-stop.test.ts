import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Log } from '../src/domain/ports.js';
import type { WorkJob } from '../src/schedule/planner.js';
import { Scheduler } from '../src/schedule/scheduler.js';
import { waitFor } from './support/dispatch.js';

const quiet: Log = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/** A pass that runs until told to finish; records which signals it saw abort. */
function gatedJob(name: string, drains: boolean) {
  const seen = { started: false, aborted: false, stopping: false, finished: false };
  let finish = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const job: WorkJob = {
    name: `work:${name}`,
    resource: name,
    scope: 'global',
    interval: 60_000,
    drains,
    run: async (signal, stopping) => {
      seen.started = true;
      stopping?.addEventListener('abort', () => (seen.stopping = true));
      await Promise.race([finished, new Promise((resolve) => signal.addEventListener('abort', resolve))]);
      seen.aborted = signal.aborted;
      seen.finished = true;
    },
  };
  return { job, seen, finish: () => finish() };
}

describe('scheduler: stop taking work, then abort what is in flight', () => {
  it('lets a draining pass finish after the stop, and aborts the other passes at once', async () => {
    const scheduler = new Scheduler({ log: quiet, retryBudgetMs: 1_000 });
    const stop = new AbortController();
    const inFlight = new AbortController();
    const draining = gatedJob('dispatcher', true);
    const plain = gatedJob('poller', false);
    const working = scheduler.work([draining.job, plain.job], stop.signal, { once: false, inFlight: inFlight.signal });
    await waitFor(() => draining.seen.started && plain.seen.started);
    stop.abort();
    await waitFor(() => plain.seen.finished);
    assert.equal(plain.seen.aborted, true, 'a pass that does not drain is aborted by the stop');
    assert.equal(draining.seen.stopping, true, 'the draining pass is told to take no new work');
    assert.equal(draining.seen.finished, false, 'and keeps what it holds');
    draining.finish();
    await working;
    assert.equal(draining.seen.aborted, false);
  });

  it('aborts a draining pass when the in-flight signal aborts (the grace ran out)', async () => {
    const scheduler = new Scheduler({ log: quiet, retryBudgetMs: 1_000 });
    const stop = new AbortController();
    const inFlight = new AbortController();
    const draining = gatedJob('dispatcher', true);
    const working = scheduler.work([draining.job], stop.signal, { once: true, inFlight: inFlight.signal });
    await waitFor(() => draining.seen.started);
    stop.abort();
    inFlight.abort();
    await working;
    assert.equal(draining.seen.aborted, true);
  });
});
