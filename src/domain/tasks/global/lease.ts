/**
 * Keeps a queue job's claim while its worker lives: the lease is renewed every
 * third of its length, so a long model run or a comment held by write pacing
 * never loses it, and a dead worker's job comes back one lease later at most.
 *
 * The claim is fenced by its token: `confirm()` renews it and throws when the
 * job is no longer ours, right before a side effect (posting the comment).
 */
import type { DispatchQueue, Log, QueueJob } from '../../ports.js';
import { describeError } from '../../failure.js';

/** The claim on a queue job was lost (its lease expired and another worker took it, or it was settled elsewhere). */
export class ClaimLostError extends Error {
  constructor(where: string, jobId: number) {
    super(`the claim on queue job ${jobId} (${where}) was lost: another worker may hold it now, so nothing is done in its name`);
    this.name = 'ClaimLostError';
  }
}

export interface Lease {
  /** Aborted when a renewal finds the claim gone. */
  readonly lost: AbortSignal;
  /** Renews the lease now; throws ClaimLostError when the claim is no longer ours. */
  confirm(): Promise<void>;
  /** Stops the heartbeat. Idempotent. */
  stop(): void;
}

export function keepLease(queue: DispatchQueue, job: QueueJob, leaseMs: number, where: string, log: Log): Lease {
  const lost = new AbortController();
  let renewing: Promise<unknown> = Promise.resolve();
  const renew = async (): Promise<boolean> => {
    if (lost.signal.aborted) return false;
    const ours = await queue.renew(job, leaseMs);
    if (!ours && !lost.signal.aborted) lost.abort(new ClaimLostError(where, job.id));
    return ours;
  };
  const timer = setInterval(() => {
    // One renewal at a time: a slow database must not pile them up.
    renewing = renewing.then(renew).catch((error: unknown) => {
      // The database was busy or failed: the next beat tries again, well within the lease.
      log.warn({ job: job.id, error: describeError(error) }, `${where}: could not renew the claim on queue job ${job.id}; retrying`);
    });
  }, Math.max(1, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    lost: lost.signal,
    async confirm() {
      if (!(await renew())) throw lost.signal.reason instanceof Error ? lost.signal.reason : new ClaimLostError(where, job.id);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
