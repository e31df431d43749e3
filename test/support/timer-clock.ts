/**
 * A virtual clock with timers, for several throttles sharing one simulator:
 * when nothing else can run (no request in flight, every callback run), time
 * jumps to the earliest sleeper's deadline and wakes it. Concurrent sleeps
 * overlap as real ones do (test/support/virtual-time.ts adds them up instead).
 */
export interface TimerClock {
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Moves the clock on without waking anyone (time passing while nothing waits). */
  advance: (ms: number) => void;
  fetch: typeof fetch;
}

export function timerClock(start: number): TimerClock {
  let time = start;
  let inFlight = 0;
  let scheduled = false;
  const timers: Array<{ at: number; wake: () => void }> = [];
  const tick = (): void => {
    scheduled = false;
    if (inFlight > 0) return;
    timers.sort((a, b) => a.at - b.at);
    const next = timers.shift();
    if (next === undefined) return;
    time = Math.max(time, next.at);
    next.wake();
    schedule();
  };
  const schedule = (): void => {
    if (scheduled || timers.length === 0) return;
    scheduled = true;
    setImmediate(tick);
  };
  return {
    now: () => time,
    sleep: (ms, signal) =>
      new Promise<void>((wake, reject) => {
        if (signal?.aborted) {
          reject(new DOMException('aborted', 'AbortError'));
          return;
        }
        timers.push({ at: time + ms, wake });
        schedule();
      }),
    advance: (ms) => {
      time += ms;
    },
    fetch: async (input, init) => {
      inFlight++;
      try {
        return await fetch(input, init);
      } finally {
        inFlight--;
        schedule();
      }
    },
  };
}
