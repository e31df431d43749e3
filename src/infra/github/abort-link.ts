/**
 * One abort listener per caller signal, however many requests share it. The
 * daemon passes one shutdown signal to everything; a listener per queued
 * request would trip Node's MaxListenersExceededWarning as soon as eleven
 * requests wait behind the throttle, and would cost one closure each.
 */

interface Fanout {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const fanouts = new WeakMap<AbortSignal, Fanout>();

function subscribe(signal: AbortSignal, callback: () => void): () => void {
  let fanout = fanouts.get(signal);
  if (fanout === undefined) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      fanouts.delete(signal);
      for (const notify of callbacks) notify();
    };
    fanout = { callbacks, listener };
    fanouts.set(signal, fanout);
    signal.addEventListener('abort', listener, { once: true });
  }
  const { callbacks, listener } = fanout;
  callbacks.add(callback);
  return () => {
    callbacks.delete(callback);
    if (callbacks.size === 0 && fanouts.get(signal)?.callbacks === callbacks) {
      fanouts.delete(signal);
      signal.removeEventListener('abort', listener);
    }
  };
}

/**
 * A signal of our own that aborts (with the same reason) when `parent` does.
 * Call `unlink` when the request is over.
 */
export function linkedSignal(parent: AbortSignal): { signal: AbortSignal; unlink: () => void } {
  const controller = new AbortController();
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, unlink: () => {} };
  }
  const unlink = subscribe(parent, () => controller.abort(parent.reason));
  return { signal: controller.signal, unlink };
}
