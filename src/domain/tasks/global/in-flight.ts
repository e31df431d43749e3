/**
 * What the dispatcher is doing right now, job by job, so that a shutdown can
 * say what it waits for ("acme/api#12: running command agent").
 */
import type { Log } from '../../ports.js';

/** Where one queue job is in its answer. */
export interface Step {
  readonly current: string;
  set(step: string): void;
}

export class InFlight {
  readonly #jobs = new Map<number, { readonly label: string; step: string }>();

  start(jobId: number, label: string): Step {
    const entry = { label, step: 'starting' };
    this.#jobs.set(jobId, entry);
    return {
      get current() {
        return entry.step;
      },
      set(step: string) {
        entry.step = step;
      },
    };
  }

  finish(jobId: number): void {
    this.#jobs.delete(jobId);
  }

  /** Logs what shutdown waits for: no new job is claimed, these may finish within the grace. */
  announce(log: Log): void {
    const waiting = [...this.#jobs.values()].map((job) => `${job.label} (${job.step})`);
    if (waiting.length === 0) {
      log.info({ inFlight: [] }, 'dispatcher: stopping; no queue job in flight');
      return;
    }
    log.info({ inFlight: waiting }, `dispatcher: stopping; waiting for ${waiting.length} queue job${waiting.length === 1 ? '' : 's'} in flight to finish: ${waiting.join(', ')}`);
  }
}
