/**
 * Worker, global: answers the queued issues, `concurrency` at a time, and
 * posts one comment per issue.
 *
 * Never twice: before running the executor, and again right before posting,
 * every comment of the issue is checked for the marker, whoever wrote it (the
 * Go autosolve, a previous token, another instance, or this one before a
 * crash). Never a loop: answered issues are not enqueued again, and a
 * re-enqueued one finds its marker.
 *
 * Claims never lapse while the worker lives: each queue job's lease is renewed
 * by a heartbeat (lease.ts), and fenced by its token once the write throttle
 * lets the comment through, together with the last marker check. Right before
 * posting, the issue is read again: closed, unlabelled or locked during the
 * model run means no comment.
 *
 * Shutdown has two signals: `stopping` ends the claiming of new jobs, `signal`
 * aborts the jobs in flight (when the shutdown grace runs out); an aborted job
 * goes back to the queue without spending an attempt.
 *
 * Two kinds of failure are kept apart. The backend unreachable or overloaded
 * (node/service): the job goes back without spending an attempt and the pass
 * fails, so the scheduler backs the whole dispatcher off. The job itself
 * failed: it spends an attempt, and the queue retries it later or lets it die.
 */
import { formatComment, hasMarker } from '../../comment.js';
import { fullName, type Issue, type RepositoryRef } from '../../entities.js';
import { ANSWER_JOB, wantsAnswer } from '../../eligibility.js';
import { DispatchError } from '../../errors.js';
import { describeError, isAbort } from '../../failure.js';
import type { DispatchObserver, DispatchQueue, Executor, IssueCatalog, IssueCommenter, IssueReader, JobOutcome, Log, QueueJob } from '../../ports.js';
import { renderPrompt } from '../../prompt.js';
import { scrubSecrets } from '../../scrub.js';
import type { GlobalWorkerSpec, WakeSource } from '../../spec.js';
import { InFlight, type Step } from './in-flight.js';
import { ClaimLostError, keepLease, type Lease } from './lease.js';
import { DispatchFailures, type PauseRecorder } from './dispatch-failure.js';

export interface DispatcherDeps {
  readonly queue: DispatchQueue;
  readonly catalog: IssueCatalog;
  readonly github: IssueReader & IssueCommenter;
  readonly executor: Executor;
  /** How often the queue is checked, in milliseconds. */
  readonly interval: number;
  /** ai.concurrency: queue jobs in flight at once. */
  readonly concurrency: number;
  /** ai.visibilityTimeout: a claim's lease, renewed every third of it while the worker lives. */
  readonly leaseMs: number;
  readonly requiredLabel: string | undefined;
  readonly promptTemplate: string;
  readonly maxBodyChars: number;
  readonly dryRun: boolean;
  /** Known secrets (token, API keys, passEnv values) scrubbed from every comment, with GitHub-token-shaped strings. */
  readonly secrets: readonly string[];
  readonly log: Log;
  readonly observer?: DispatchObserver;
  /** Where a pause (the daemon's failure, not the job's) is recorded. Default: only logged. */
  readonly pauses?: PauseRecorder;
  /** Rings when jobs were queued: the next pass starts at once instead of after `interval`. Default: none. */
  readonly wake?: WakeSource;
  /** Runs one queue job inside a context (log fields). */
  readonly around?: <T>(info: { repository: string; issue: number }, work: () => Promise<T>) => Promise<T>;
}

/** Cleanup after an abort gets its own deadline instead of the aborted signal. */
const RELEASE_DEADLINE_MS = 5_000;

export function dispatcher(given: DispatcherDeps): GlobalWorkerSpec {
  const failures = new DispatchFailures(given);
  const deps: DispatcherDeps = { ...given, observer: failures.watching(given.observer) };
  return {
    resource: 'dispatcher',
    interval: deps.interval,
    drains: true,
    ...(deps.wake ? { wake: deps.wake } : {}),
    async work(signal, stopping = signal) {
      const inFlight = new InFlight();
      const onStop = () => inFlight.announce(deps.log);
      stopping.addEventListener('abort', onStop, { once: true });
      // Until the queue has nothing visible, the backend turns out unavailable, or shutdown.
      let unavailable: unknown;
      const worker = async () => {
        while (!stopping.aborted && !signal.aborted && unavailable === undefined) {
          const [job] = await deps.queue.claim(ANSWER_JOB, 1, deps.leaseMs);
          if (!job) return;
          const error = await handle(deps, failures, job, signal, inFlight);
          if (error !== undefined) unavailable ??= error;
        }
      };
      try {
        await Promise.all(Array.from({ length: deps.concurrency }, worker));
      } finally {
        stopping.removeEventListener('abort', onStop);
      }
      await failures.passEnded(unavailable);
      if (unavailable !== undefined) throw unavailable;
    },
  };
}

/** Settles one queue job; returns an error only when the dispatcher must stop claiming (backend unavailable, or paused). */
async function handle(deps: DispatcherDeps, failures: DispatchFailures, job: QueueJob, signal: AbortSignal, inFlight: InFlight): Promise<unknown> {
  const lease = keepLease(deps.queue, job, deps.leaseMs, `queue job ${job.id}`, deps.log);
  // The job's work stops on shutdown's abort and when its claim is lost. Linked
  // by hand and unlinked below: the daemon-long signal must not collect a
  // listener per job.
  const jobAbort = new AbortController();
  const abortJob = () => jobAbort.abort(lease.lost.aborted ? lease.lost.reason : signal.reason);
  signal.addEventListener('abort', abortJob, { once: true });
  lease.lost.addEventListener('abort', abortJob, { once: true });
  if (signal.aborted) abortJob();
  const jobSignal = jobAbort.signal;
  try {
    const record = await deps.catalog.find(job.issueGithubId);
    if (!record) {
      await settle(deps, job, { repository: '?', number: 0 }, 'not-eligible');
      return undefined;
    }
    const { issue, repository } = record;
    const where = { repository: fullName(repository), issue: issue.number };
    const step = inFlight.start(job.id, `${where.repository}#${where.issue}`);
    const run = () => answer(deps, job, issue, repository, { signal: jobSignal, lease, step });
    try {
      await (deps.around ? deps.around(where, run) : run());
      await failures.succeeded();
      return undefined;
    } catch (error) {
      return await recover(deps, failures, job, where, error, { signal, lease, step });
    } finally {
      inFlight.finish(job.id);
    }
  } finally {
    signal.removeEventListener('abort', abortJob);
    lease.stop();
  }
}

/** After a failed answer: hand the job back, spend an attempt, or leave it to whoever holds it now. */
async function recover(
  deps: DispatcherDeps,
  failures: DispatchFailures,
  job: QueueJob,
  where: { repository: string; issue: number },
  error: unknown,
  context: { signal: AbortSignal; lease: Lease; step: Step },
): Promise<unknown> {
  if (context.lease.lost.aborted || error instanceof ClaimLostError || hasCause(error, ClaimLostError)) {
    deps.log.error({ ...where, job: job.id, error: describeError(error) }, `${where.repository}#${where.issue}: claim lost while ${context.step.current}; nothing posted, the job is left to its new holder`);
    return undefined;
  }
  if (isAbort(error, context.signal)) {
    await withDeadline(deps.queue.release(job, 0));
    deps.log.warn({ ...where, job: job.id }, `${where.repository}#${where.issue}: aborted by shutdown while ${context.step.current}; job returned to the queue without spending an attempt`);
    return undefined;
  }
  // Pause, release or spend an attempt: whose failure it is decides (dispatch-failure.ts).
  return failures.failed(job, where, error);
}

interface Claim {
  /** Aborted on shutdown's abort and when the claim is lost. */
  readonly signal: AbortSignal;
  readonly lease: Lease;
  readonly step: Step;
}

/** The marker appeared after the executor ran: someone answered meanwhile. */
class AnsweredMeanwhile extends Error {}

async function answer(deps: DispatcherDeps, job: QueueJob, issue: Issue, repository: RepositoryRef, claim: Claim): Promise<void> {
  const { signal, step } = claim;
  const where = { repository: fullName(repository), number: issue.number };
  // The synced data decides eligibility: no extra API call for the label.
  if (!wantsAnswer(issue, deps.requiredLabel)) return settle(deps, job, where, 'not-eligible');
  step.set('checking the comments');
  if (await answeredAlready(deps, issue, repository, signal)) return settle(deps, job, where, 'already-answered');

  const prompt = renderPrompt(deps.promptTemplate, { ...where, repository: where.repository, title: issue.title, body: issue.body, labels: issue.labels, url: issue.htmlUrl }, deps.maxBodyChars);
  const started = Date.now();
  step.set(`running ${deps.executor.description}`);
  let output;
  try {
    output = await deps.executor.run(
      { repository: where.repository, number: issue.number, title: issue.title, body: issue.body ?? '', labels: issue.labels, url: issue.htmlUrl, prompt },
      signal,
    );
    deps.observer?.executorFinished?.({ repository: where.repository, durationMs: Date.now() - started, ok: true });
  } catch (cause) {
    deps.observer?.executorFinished?.({ repository: where.repository, durationMs: Date.now() - started, ok: false });
    throw new DispatchError(where.repository, issue.number, deps.executor.description, { cause });
  }
  const { text: body, scrubbed } = scrubSecrets(formatComment(output), deps.secrets);
  if (scrubbed > 0) deps.log.warn({ ...where, scrubbed }, `${where.repository}#${issue.number}: removed ${scrubbed} secret-looking strings from the comment before posting`);

  // The issue may have been closed, unlabelled or locked during the model run.
  step.set('confirming the issue is still eligible');
  const stale = await noLongerEligible(deps, repository, issue.number, signal);
  if (stale !== undefined) {
    deps.log.info({ ...where, reason: stale }, `${where.repository}#${issue.number}: ${stale} during the model run`);
    return settle(deps, job, where, 'not-eligible');
  }
  if (deps.dryRun) {
    deps.log.info({ ...where, comment: body }, `dry run: would post this comment on ${where.repository}#${issue.number}`);
    return settle(deps, job, where, 'dry-run', undefined, scrubbed);
  }
  step.set('posting the comment');
  let url: string;
  try {
    const comment = await deps.github.createComment(repository, issue.number, body, signal, {
      // Once the throttle lets the write through (it may have held it for
      // minutes): the claim must still be ours, and nobody may have answered.
      beforeWrite: async (writeSignal) => {
        await claim.lease.confirm();
        if (await answeredAlready(deps, issue, repository, writeSignal)) throw new AnsweredMeanwhile();
      },
    });
    url = comment.htmlUrl;
  } catch (cause) {
    // Another instance, or this one before a crash, answered meanwhile.
    if (cause instanceof AnsweredMeanwhile || hasCause(cause, AnsweredMeanwhile)) return settle(deps, job, where, 'already-answered');
    throw new DispatchError(where.repository, issue.number, 'posting the comment', { cause });
  }
  deps.observer?.commentPosted?.({ ...where, url });
  deps.log.info({ ...where, url }, `answered ${where.repository}#${issue.number}: ${url}`);
  await settle(deps, job, where, 'answered', url, scrubbed);
}

/** Why the issue, read again now, must not get the comment; undefined when it still should. */
async function noLongerEligible(deps: DispatcherDeps, repository: RepositoryRef, number: number, signal: AbortSignal): Promise<string | undefined> {
  let fresh: Issue;
  try {
    fresh = await deps.github.getIssue(repository, number, signal);
  } catch (cause) {
    throw new DispatchError(fullName(repository), number, 'reading the issue again before posting', { cause });
  }
  if (fresh.state !== 'open') return 'closed';
  if (fresh.locked === true) return 'locked';
  if (!wantsAnswer(fresh, deps.requiredLabel)) return `no longer labelled ${deps.requiredLabel ?? ''}`.trim();
  return undefined;
}

async function answeredAlready(deps: DispatcherDeps, issue: Issue, repository: RepositoryRef, signal: AbortSignal): Promise<boolean> {
  try {
    const comments = await deps.github.listComments(repository, issue.number, signal);
    return comments.some((comment) => hasMarker(comment.body));
  } catch (cause) {
    throw new DispatchError(fullName(repository), issue.number, 'reading the comments', { cause });
  }
}

async function settle(deps: DispatcherDeps, job: QueueJob, where: { repository: string; number: number }, outcome: JobOutcome, url?: string, scrubbed = 0): Promise<void> {
  await deps.queue.complete(job, url === undefined ? { outcome, scrubbed } : { outcome, commentUrl: url, scrubbed });
  deps.observer?.jobSettled?.({ ...where, outcome });
  if (outcome !== 'answered') deps.log.info({ repository: where.repository, issue: where.number, outcome }, `${where.repository}#${where.number}: ${outcome}, nothing posted`);
}

/** Whether an error of this class is somewhere along the cause chain. */
function hasCause(error: unknown, kind: new (...args: never[]) => Error): boolean {
  let link: unknown = error;
  for (let depth = 0; link instanceof Error && depth < 16; depth++) {
    if (link instanceof kind) return true;
    link = (link as { cause?: unknown }).cause;
  }
  return false;
}

function withDeadline(work: Promise<void>): Promise<void> {
  return Promise.race([work, new Promise<void>((resolve) => setTimeout(resolve, RELEASE_DEADLINE_MS).unref())]);
}
