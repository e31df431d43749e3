/**
 * The waiting the throttle does: timed sleeps, "wait for a notice", and FIFO
 * lanes, every one of them abortable by the request's signal.
 */

export function abortError(signal?: AbortSignal): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return new DOMException('The operation was aborted', 'AbortError');
}

export function sleepWithTimer(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Resolves once `register`'s notify is called, or rejects on abort (and then
 * unregisters). For "wait your turn" and "wait for a free slot": no deadline.
 */
export function waitForNotice(register: (notify: () => void) => () => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => {
      unregister();
      reject(abortError(signal));
    };
    const unregister = register(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** First in, first out: one request at a time past a gate; aborted waiters leave the line. */
export class Lane {
  private busy = false;
  private readonly waiting: Array<() => void> = [];

  async enter(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw abortError(signal);
    if (!this.busy) {
      this.busy = true;
      return;
    }
    await waitForNotice((notify) => {
      this.waiting.push(notify);
      return () => {
        const index = this.waiting.indexOf(notify);
        if (index >= 0) this.waiting.splice(index, 1);
      };
    }, signal);
  }

  /** Hands the gate to the next in line (it stays busy) or frees it. */
  leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }
}
