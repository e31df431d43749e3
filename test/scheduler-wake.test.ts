/** A worker with a wake source runs its next pass at once when it rings, not after its interval. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Doorbell } from '../src/domain/doorbell.js';
import type { Log } from '../src/domain/ports.js';
import { workGlobal } from '../src/schedule/entries.js';
import { plan } from '../src/schedule/planner.js';
import { Scheduler } from '../src/schedule/scheduler.js';

const silent: Log = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => silent };
/** Far longer than any test: a pass that comes at all came from a wake-up. */
const HOUR = 3_600_000;

/** A global worker that counts its passes and lets the test wait for the n-th. */
function countingWorker(options: { wake?: Doorbell; during?: (pass: number) => void }) {
  let passes = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const entry = workGlobal({
    resource: 'dispatcher',
    interval: HOUR,
    ...(options.wake ? { wake: options.wake } : {}),
    work: async () => {
      passes++;
      options.during?.(passes);
      for (const waiter of waiters.filter((w) => w.n <= passes)) waiter.resolve();
    },
  });
  const reached = (n: number) => (passes >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })));
  return { entry, reached, passes: () => passes };
}

describe('scheduler wake-ups', () => {
  it('runs the next pass as soon as the wake source rings, not after the interval', async (t) => {
    const bell = new Doorbell();
    const worker = countingWorker({ wake: bell });
    const stop = new AbortController();
    t.after(() => stop.abort());
    const running = new Scheduler({ log: silent, retryBudgetMs: 1_000 }).work(plan([worker.entry], []).bindWork(() => assert.fail('no partitions')), stop.signal, { once: false });
    await worker.reached(1);
    bell.ring();
    await worker.reached(2);
    bell.ring();
    await worker.reached(3);
    // One ring, one pass: a few turns of the event loop later it still waits for its interval.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(worker.passes(), 3);
    stop.abort();
    await running;
    assert.equal(worker.passes(), 3);
  });

  it('does not lose a ring that comes while a pass runs', async (t) => {
    const bell = new Doorbell();
    const worker = countingWorker({ wake: bell, during: (pass) => pass === 1 && bell.ring() });
    const stop = new AbortController();
    t.after(() => stop.abort());
    const running = new Scheduler({ log: silent, retryBudgetMs: 1_000 }).work(plan([worker.entry], []).bindWork(() => assert.fail('no partitions')), stop.signal, { once: false });
    await worker.reached(2);
    stop.abort();
    await running;
    assert.equal(worker.passes(), 2, 'one ring, one extra pass');
  });
});
