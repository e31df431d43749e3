/**
 * One virtual clock for the GitHub throttle (now, sleep, fetch: as
 * test/support/virtual-time.ts) and the walk runner (its timers), so a test can
 * say to the millisecond when a retried request reached the simulator. Time
 * moves only when the throttle sleeps or the test advances it.
 */
import type { WalkClock } from '../../src/schedule/walk-runner.js';

export class SharedClock implements WalkClock {
  time: number;
  #inFlight = 0;
  #idle: Array<() => void> = [];
  readonly #timers = new Map<number, { at: number; callback: () => void }>();
  #ids = 0;

  constructor(start: number) {
    this.time = start;
  }

  now = (): number => this.time;

  /** The throttle's sleep: waits for the requests already sent to be answered (the simulator stamps them on arrival), then jumps. */
  sleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
    while (this.#inFlight > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    this.time += ms;
  };

  fetch: typeof fetch = async (input, init) => {
    this.#inFlight++;
    try {
      return await fetch(input, init);
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) {
        const waiting = this.#idle;
        this.#idle = [];
        for (const resolve of waiting) resolve();
      }
    }
  };

  setTimer(callback: () => void, ms: number): unknown {
    const id = ++this.#ids;
    this.#timers.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves to `target`, firing on the way every timer due by then (the walk runner starts a due walk inside its timer). */
  advanceTo(target: number): void {
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].callback();
    }
    this.time = Math.max(this.time, target);
  }
}

/** Lets every callback already queued (promise reactions, I/O callbacks due now) run; for tests on node's mocked timers, where setTimeout does not tick. */
export async function flush(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
