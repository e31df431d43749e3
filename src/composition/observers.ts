/** Several listeners for one hook: the caller's and the metrics'. */
import type { AppHooks } from '../app.js';

/** The given hooks plus the metrics' observers: every observer hears every event. */
export function mergeHooks(given: AppHooks, metrics: AppHooks): AppHooks {
  const polls = [given.onPoll, metrics.onPoll].filter((f) => f !== undefined);
  const commentPolls = [given.onCommentPoll, metrics.onCommentPoll].filter((f) => f !== undefined);
  return {
    ...given,
    githubTelemetry: fanOut(given.githubTelemetry, metrics.githubTelemetry),
    schedulerObserver: fanOut(given.schedulerObserver, metrics.schedulerObserver),
    dispatchObserver: fanOut(given.dispatchObserver, metrics.dispatchObserver),
    ...pauseListeners(given, metrics),
    ...projectionListeners(given, metrics),
    ...(polls.length > 0 ? { onPoll: (repository, outcome) => polls.forEach((f) => f(repository, outcome)) } : {}),
    ...(commentPolls.length > 0 ? { onCommentPoll: (repository, outcome) => commentPolls.forEach((f) => f(repository, outcome)) } : {}),
  };
}

function pauseListeners(...hooks: AppHooks[]): Pick<AppHooks, 'onDispatcherPause'> {
  const listeners = hooks.map((h) => h.onDispatcherPause).filter((f) => f !== undefined);
  return listeners.length === 0 ? {} : { onDispatcherPause: (pause) => listeners.forEach((f) => f(pause)) };
}

function projectionListeners(...hooks: AppHooks[]): Pick<AppHooks, 'onFleetProjection'> {
  const listeners = hooks.map((h) => h.onFleetProjection).filter((f) => f !== undefined);
  return listeners.length === 0 ? {} : { onFleetProjection: (capacity) => listeners.forEach((f) => f(capacity)) };
}

/** One observer that calls, method by method, each given one; undefined ones are skipped. */
export function fanOut<T extends object>(...observers: Array<T | undefined>): T {
  const present = observers.filter((o): o is T => o !== undefined);
  const methods = new Set(present.flatMap((o) => Object.keys(o)));
  return Object.fromEntries(
    [...methods].map((name) => [
      name,
      (...args: unknown[]) => {
        for (const observer of present) (observer as Record<string, ((...x: unknown[]) => void) | undefined>)[name]?.(...args);
      },
    ]),
  ) as T;
}
