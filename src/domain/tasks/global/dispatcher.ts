/**
 * Worker, global: settles the queue's conversation jobs, `concurrency` at a
 * time: an issue's first answer (answer-flow.ts), the revision of an answer
 * after the issue was edited (revise-flow.ts), and the reply to a comment that
 * mentions autosolve (follow-up-flow.ts). The rules (src/domain/rules.ts)
 * say which executor and prompt each gets, or that it gets none.
 *
 * Never twice: each flow checks the thread for its marker before running the
 * executor and again right before writing, whoever wrote it (the Go
 * autosolve, a previous token, another instance, or this one before a crash).
 * Never a loop: our comments carry the marker and neutralise mentions, so
 * they never ask for anything.
 *
 * Claims never lapse while the worker lives: each queue job's lease is renewed
 * by a heartbeat (lease.ts), and fenced by its token right before a write.
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
import { fullName } from '../../entities.js';
import { ANSWER_JOB, FOLLOW_UP_JOB, REVISE_JOB } from '../../eligibility.js';
import { describeError, isAbort } from '../../failure.js';
import type { MentionSettings } from '../../mention.js';
import type { CommentReactor, DispatchObserver, DispatchQueue, Executor, IssueCatalog, IssueCommenter, IssueReader, Log, QueueJob, RevisionLog } from '../../ports.js';
import { Router } from '../../rules.js';
import type { GlobalWorkerSpec, WakeSource } from '../../spec.js';
import { answerFlow } from './answer-flow.js';
import { hasCause, type Flow } from './dispatch-steps.js';
import { followUpFlow } from './follow-up-flow.js';
import { InFlight, type Step } from './in-flight.js';
import { ClaimLostError, keepLease, type Lease } from './lease.js';
import { DispatchFailures, type PauseRecorder } from './dispatch-failure.js';
import { reviseFlow } from './revise-flow.js';

/** What revisions and follow-ups need; without it the dispatcher answers issues only. */
export interface ConversationSettings {
  readonly revisions: RevisionLog;
  /** ai.maxRevisionsPerIssue: revisions of one issue's answer in any 24 hours. */
  readonly maxRevisionsPerIssue: number;
  /** ai.mention and ai.mentionFrom: a mention is read again before it is answered. */
  readonly mention: MentionSettings;
  /** The follow-up's prompt when its rule names none. Default: DEFAULT_FOLLOW_UP_PROMPT. */
  readonly followUpPrompt?: string;
}

export interface DispatcherDeps {
  readonly queue: DispatchQueue;
  readonly catalog: IssueCatalog;
  readonly github: IssueReader & IssueCommenter & CommentReactor;
  /** The executor named `default` (ai.provider & co.). */
  readonly executor: Executor;
  /** The executor a rule names. Default: `executor` whatever the name. */
  readonly executors?: (name: string) => Executor;
  /** The rules (src/domain/rules.ts). Default: none, so every issue github.issues.requiredLabel lets through goes to `executor`. */
  readonly router?: Router;
  /** Revisions and follow-ups. Default: none (only `answer` jobs are claimed). */
  readonly conversation?: ConversationSettings;
  /** github.issues.reanalyze: an answer posted for text edited meanwhile queues a revision. Default false. */
  readonly reanalyze?: boolean;
  /** Default: the system clock. */
  readonly now?: () => Date;
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

/** The deps with their defaults filled in, as the flows use them. */
export interface ResolvedDeps extends DispatcherDeps {
  readonly router: Router;
  readonly executorNamed: (name: string) => Executor;
  readonly reanalyze: boolean;
  readonly now: () => Date;
}

const FLOWS: Readonly<Record<string, Flow>> = { [ANSWER_JOB]: answerFlow, [REVISE_JOB]: reviseFlow, [FOLLOW_UP_JOB]: followUpFlow };

export function dispatcher(given: DispatcherDeps): GlobalWorkerSpec {
  const failures = new DispatchFailures(given);
  const deps: ResolvedDeps = {
    ...given,
    observer: failures.watching(given.observer),
    router: given.router ?? new Router([], { requiredLabel: given.requiredLabel }),
    executorNamed: given.executors ?? (() => given.executor),
    reanalyze: given.reanalyze ?? false,
    now: given.now ?? (() => new Date()),
  };
  const types = deps.conversation === undefined ? [ANSWER_JOB] : Object.keys(FLOWS);
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
          const [job] = await deps.queue.claim(types, 1, deps.leaseMs);
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
async function handle(deps: ResolvedDeps, failures: DispatchFailures, job: QueueJob, signal: AbortSignal, inFlight: InFlight): Promise<unknown> {
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
      await deps.queue.complete(job, { outcome: 'not-eligible' });
      deps.observer?.jobSettled?.({ repository: '?', number: 0, outcome: 'not-eligible', type: job.type });
      deps.log.info({ repository: '?', issue: 0, outcome: 'not-eligible' }, '?#0: not-eligible, nothing posted');
      return undefined;
    }
    const { issue, repository } = record;
    const where = { repository: fullName(repository), issue: issue.number };
    const step = inFlight.start(job.id, `${where.repository}#${where.issue}${job.type === ANSWER_JOB ? '' : ` (${job.type})`}`);
    const flow = FLOWS[job.type] as Flow;
    const claim = { signal: jobSignal, lease, step };
    const run = () => flow({ deps, job, issue, repository, claim, where: { repository: where.repository, number: issue.number } });
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

function withDeadline(work: Promise<void>): Promise<void> {
  return Promise.race([work, new Promise<void>((resolve) => setTimeout(resolve, RELEASE_DEADLINE_MS).unref())]);
}
