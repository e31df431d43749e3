/** A virtual clock shared by a GitHub client's throttle and the simulator, so hours of waiting take no real time. */

export interface VirtualTime {
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  fetch: typeof fetch;
}

/**
 * A clock that only moves when the throttle sleeps. Before moving it, a sleep
 * waits until every request already sent has been answered: the simulator
 * stamps a request when it arrives, and that must happen before time jumps
 * ahead.
 */
export function virtualTime(start: number): VirtualTime {
  let time = start;
  let inFlight = 0;
  let idle: Array<() => void> = [];
  return {
    now: () => time,
    sleep: async (ms, signal) => {
      while (inFlight > 0) await new Promise<void>((resolve) => idle.push(resolve));
      if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
      time += ms;
    },
    fetch: async (input, init) => {
      inFlight++;
      try {
        return await fetch(input, init);
      } finally {
        inFlight--;
        if (inFlight === 0) {
          const waiting = idle;
          idle = [];
          for (const resolve of waiting) resolve();
        }
      }
    },
  };
}
