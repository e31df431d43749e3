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
 * Two kinds of failure are kept apart. The backend unreachable or overloaded
 * (node/service): the job goes back without spending an attempt and the pass
 * fails, so the scheduler backs the whole dispatcher off. The job itself
 * failed: it spends an attempt, and the queue retries it later or lets it die.
 */
import { formatComment, hasMarker } from '../../comment.js';
import { fullName, type Issue, type RepositoryRef } from '../../entities.js';
import { ANSWER_JOB, wantsAnswer } from '../../eligibility.js';
import { DispatchError } from '../../errors.js';
import { isAbort } from '../../failure.js';
import type { DispatchObserver, DispatchQueue, Executor, IssueCatalog, IssueCommenter, IssueReader, JobOutcome, Log, QueueJob } from '../../ports.js';
import { renderPrompt } from '../../prompt.js';
import type { GlobalWorkerSpec } from '../../spec.js';
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
  /** How long a claim lasts before a crashed worker's job comes back; longer than ai.timeout. */
  readonly visibilityMs: number;
  readonly requiredLabel: string | undefined;
  readonly promptTemplate: string;
  readonly maxBodyChars: number;
  readonly dryRun: boolean;
  readonly log: Log;
  readonly observer?: DispatchObserver;
  /** Where a pause (the daemon's failure, not the job's) is recorded. Default: only logged. */
  readonly pauses?: PauseRecorder;
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
    async work(signal) {
      // Until the queue has nothing visible, or the backend turns out unavailable.
      let unavailable: unknown;
      const worker = async () => {
        while (!signal.aborted && unavailable === undefined) {
          const [job] = await deps.queue.claim(ANSWER_JOB, 1, deps.visibilityMs);
          if (!job) return;
          const error = await handle(deps, failures, job, signal);
          if (error !== undefined) unavailable ??= error;
        }
      };
      await Promise.all(Array.from({ length: deps.concurrency }, worker));
      await failures.passEnded(unavailable);
      if (unavailable !== undefined) throw unavailable;
    },
  };
}

/** Settles one queue job; returns an error only when the dispatcher must stop claiming (backend unavailable, or paused). */
async function handle(deps: DispatcherDeps, failures: DispatchFailures, job: QueueJob, signal: AbortSignal): Promise<unknown> {
  const record = await deps.catalog.find(job.issueGithubId);
  if (!record) {
    await settle(deps, job, { repository: '?', number: 0 }, 'not-eligible');
    return undefined;
  }
  const { issue, repository } = record;
  const where = { repository: fullName(repository), issue: issue.number };
  const run = () => answer(deps, job, issue, repository, signal);
  try {
    await (deps.around ? deps.around(where, run) : run());
    await failures.succeeded();
    return undefined;
  } catch (error) {
    if (isAbort(error, signal)) {
      await withDeadline(deps.queue.release(job, 0));
      return undefined;
    }
    return failures.failed(job, where, error);
  }
}

async function answer(deps: DispatcherDeps, job: QueueJob, issue: Issue, repository: RepositoryRef, signal: AbortSignal): Promise<void> {
  const where = { repository: fullName(repository), number: issue.number };
  // The synced data decides eligibility: no extra API call for the label.
  if (!wantsAnswer(issue, deps.requiredLabel)) return settle(deps, job, where, 'not-eligible');
  if (await answeredAlready(deps, issue, repository, signal)) return settle(deps, job, where, 'already-answered');

  const prompt = renderPrompt(deps.promptTemplate, { ...where, repository: where.repository, title: issue.title, body: issue.body, labels: issue.labels, url: issue.htmlUrl }, deps.maxBodyChars);
  const started = Date.now();
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
  const body = formatComment(output);

  // Another instance, or this one before a crash, may have answered meanwhile.
  if (await answeredAlready(deps, issue, repository, signal)) return settle(deps, job, where, 'already-answered');
  if (deps.dryRun) {
    deps.log.info({ ...where, comment: body }, `dry run: would post this comment on ${where.repository}#${issue.number}`);
    return settle(deps, job, where, 'dry-run');
  }
  let url: string;
  try {
    url = (await deps.github.createComment(repository, issue.number, body, signal)).htmlUrl;
  } catch (cause) {
    throw new DispatchError(where.repository, issue.number, 'posting the comment', { cause });
  }
  deps.observer?.commentPosted?.({ ...where, url });
  deps.log.info({ ...where, url }, `answered ${where.repository}#${issue.number}: ${url}`);
  await settle(deps, job, where, 'answered', url);
}

async function answeredAlready(deps: DispatcherDeps, issue: Issue, repository: RepositoryRef, signal: AbortSignal): Promise<boolean> {
  try {
    const comments = await deps.github.listComments(repository, issue.number, signal);
    return comments.some((comment) => hasMarker(comment.body));
  } catch (cause) {
    throw new DispatchError(fullName(repository), issue.number, 'reading the comments', { cause });
  }
}

async function settle(deps: DispatcherDeps, job: QueueJob, where: { repository: string; number: number }, outcome: JobOutcome, url?: string): Promise<void> {
  await deps.queue.complete(job, url === undefined ? { outcome } : { outcome, commentUrl: url });
  deps.observer?.jobSettled?.({ ...where, outcome });
  if (outcome !== 'answered') deps.log.info({ repository: where.repository, issue: where.number, outcome }, `${where.repository}#${where.number}: ${outcome}, nothing posted`);
}

function withDeadline(work: Promise<void>): Promise<void> {
  return Promise.race([work, new Promise<void>((resolve) => setTimeout(resolve, RELEASE_DEADLINE_MS).unref())]);
}
