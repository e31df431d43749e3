/**
 * The one retry baseline (src/schedule/retry.ts): which series a failure
 * advances, when a wait hint is taken exactly, what reset() undoes, and the
 * waits themselves under Node's mock timers (no real time passes). Written for
 * what a mutation run found untested (docs/mutation-testing.md).
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { ClassifiedError } from '../src/domain/failure.js';
import { ClassifiedBackoff, DEFAULT_BASELINE, formatWait, KIND_WORDS, pause, pauseOrWake } from '../src/schedule/retry.js';

const network = () => new ClassifiedError('node', 'ECONNRESET');
const busy = (waitMs?: number) => new ClassifiedError('service', 'HTTP 503', waitMs === undefined ? {} : { waitMs });
const denied = () => new ClassifiedError('permanent', 'HTTP 404');

/** Lets promise callbacks queued by a timer run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('retry baseline', () => {
  it('keeps its documented defaults', () => {
    assert.deepEqual(DEFAULT_BASELINE, {
      node: { initialMs: 2_000, maxMs: 120_000 },
      service: { initialMs: 5_000, maxMs: 300_000 },
      unknown: { initialMs: 30_000, maxMs: 300_000 },
    });
  });

  it('doubles each series from its own start up to its own cap, without jitter', () => {
    const backoff = new ClassifiedBackoff({ node: { initialMs: 100, maxMs: 500 }, service: { initialMs: 1_000, maxMs: 10_000 }, unknown: { initialMs: 7, maxMs: 20 } });
    assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.next(network()).delayMs), [100, 200, 400, 500, 500]);
    assert.deepEqual([1, 2].map(() => backoff.next(busy()).delayMs), [1_000, 2_000], 'its own series, untouched by the network failures');
    assert.deepEqual([1, 2, 3].map(() => backoff.next(new Error('what is this')).delayMs), [7, 14, 20]);
  });

  it('names the kind; permanent failures in work wait as the unrecognised do', () => {
    const backoff = new ClassifiedBackoff();
    assert.deepEqual(backoff.next(denied()), { kind: 'permanent', delayMs: 30_000, hinted: false });
    assert.deepEqual(backoff.next(new Error('?')), { kind: 'unknown', delayMs: 60_000, hinted: false }, 'the same series');
    assert.deepEqual(backoff.next(network()), { kind: 'node', delayMs: 2_000, hinted: false });
    assert.deepEqual(backoff.next(busy()), { kind: 'service', delayMs: 5_000, hinted: false });
  });

  it('waits exactly as long as a busy remote asked, and only a busy remote', () => {
    const backoff = new ClassifiedBackoff();
    assert.deepEqual(backoff.next(busy(42_000)), { kind: 'service', delayMs: 42_000, hinted: true });
    assert.deepEqual(backoff.next(busy(0)), { kind: 'service', delayMs: 0, hinted: true });
    // A hinted failure still counts in its series: the next unhinted one waits the third step.
    assert.deepEqual(backoff.next(busy()), { kind: 'service', delayMs: 20_000, hinted: false });
    const hintOnNetwork = new ClassifiedError('node', 'reset', { waitMs: 42_000 });
    assert.deepEqual(new ClassifiedBackoff().next(hintOnNetwork), { kind: 'node', delayMs: 2_000, hinted: false });
    const wrapped = new Error('poll failed', { cause: busy(9_000) });
    assert.deepEqual(new ClassifiedBackoff().next(wrapped), { kind: 'service', delayMs: 9_000, hinted: true }, 'found along the cause chain');
  });

  it('starts every series over after reset()', () => {
    const backoff = new ClassifiedBackoff();
    backoff.next(network());
    backoff.next(network());
    backoff.next(busy());
    backoff.next(denied());
    backoff.reset();
    assert.equal(backoff.next(network()).delayMs, 2_000);
    assert.equal(backoff.next(busy()).delayMs, 5_000);
    assert.equal(backoff.next(denied()).delayMs, 30_000);
  });

  it('rounds a fractional step to whole milliseconds', () => {
    const backoff = new ClassifiedBackoff({ node: { initialMs: 1.4, maxMs: 100 }, service: DEFAULT_BASELINE.service, unknown: DEFAULT_BASELINE.unknown });
    assert.equal(backoff.next(network()).delayMs, 1);
    assert.equal(backoff.next(network()).delayMs, 3);
  });

  it('says each kind in an operator’s words', () => {
    assert.deepEqual(KIND_WORDS, { node: 'network', service: 'server busy', permanent: 'permanent', unknown: 'unrecognised' });
  });

  it('formats waits as people read them', () => {
    const cases: Array<[number, string]> = [
      [0, '0ms'],
      [800, '800ms'],
      [999.4, '999ms'],
      [1_000, '1s'],
      [1_500, '1.5s'],
      [1_549, '1.5s'],
      [59_940, '59.9s'],
      [60_000, '1m'],
      [90_000, '1m30s'],
      [119_600, '2m'],
      [3_600_000, '1h'],
      [3_630_000, '1h30s'],
      [3_661_000, '1h1m1s'],
      [7_260_000, '2h1m'],
    ];
    assert.deepEqual(cases.map(([ms]) => [ms, formatWait(ms)]), cases);
  });
});

describe('pause', () => {
  it('resolves true after exactly its time, not a millisecond before', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let result: boolean | undefined;
    void pause(1_000, new AbortController().signal).then((value) => (result = value));
    t.mock.timers.tick(999);
    await settle();
    assert.equal(result, undefined);
    t.mock.timers.tick(1);
    await settle();
    assert.equal(result, true);
  });

  it('resolves false at once on an aborted signal, and as soon as the signal aborts', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const aborted = AbortSignal.abort();
    assert.equal(await pause(1_000, aborted), false);
    const controller = new AbortController();
    const waiting = pause(60_000, controller.signal);
    controller.abort();
    assert.equal(await waiting, false);
  });

  it('one abort listener per signal however many wait on it, released when they end', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const controller = new AbortController();
    const results: boolean[] = [];
    for (let i = 1; i <= 20; i++) void pause(i * 1_000, controller.signal).then((value) => results.push(value));
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    t.mock.timers.tick(10_000);
    await settle();
    assert.deepEqual(results, Array(10).fill(true));
    controller.abort();
    await settle();
    assert.deepEqual(results, [...Array(10).fill(true), ...Array(10).fill(false)], 'the ones still waiting end, once each');
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0, 'the listener goes with the abort');
    // The signal's entry is gone: a new signal-sharing pause registers afresh.
    const next = new AbortController();
    void pause(5, next.signal);
    assert.equal(getEventListeners(next.signal, 'abort').length, 1);
    next.abort();
  });
});

describe('pauseOrWake', () => {
  it('ends early, true, when woken, and unsubscribes everything it registered', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const controller = new AbortController();
    let wake: (() => void) | undefined;
    let unsubscribed = 0;
    const waiting = pauseOrWake(60_000, controller.signal, (wakeUp) => {
      wake = wakeUp;
      return () => unsubscribed++;
    });
    assert.ok(wake);
    wake();
    assert.equal(await waiting, true);
    assert.equal(unsubscribed, 1);
    wake();
    controller.abort();
    assert.equal(unsubscribed, 1, 'cleaned up once');
  });

  it('resolves true after its time, false on abort, false at once when already aborted (without subscribing)', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let subscribed = 0;
    const subscribe = () => {
      subscribed++;
      return () => undefined;
    };
    assert.equal(await pauseOrWake(1_000, AbortSignal.abort(), subscribe), false);
    assert.equal(subscribed, 0);

    let result: boolean | undefined;
    void pauseOrWake(1_000, new AbortController().signal, subscribe).then((value) => (result = value));
    t.mock.timers.tick(999);
    await settle();
    assert.equal(result, undefined);
    t.mock.timers.tick(1);
    await settle();
    assert.equal(result, true);

    const controller = new AbortController();
    const aborted = pauseOrWake(60_000, controller.signal, subscribe);
    controller.abort();
    assert.equal(await aborted, false);
  });

  it('an abort after a wake-up does not change the answer', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const controller = new AbortController();
    let wake: (() => void) | undefined;
    const waiting = pauseOrWake(60_000, controller.signal, (wakeUp) => {
      wake = wakeUp;
      return () => undefined;
    });
    wake?.();
    controller.abort();
    assert.equal(await waiting, true);
  });
});
