/**
 * Worker, per repository: sync the repository's issues until caught up, saving
 * each page's issues, the next cursor and the answer jobs they imply in one
 * transaction. In steady state this is one conditional request per pass.
 */
import { fullName } from '../../entities.js';
import { ANSWER_JOB, backlogCutoff, backlogNotice, isBacklog, wantsAnswer, type BacklogPolicy } from '../../eligibility.js';
import { FetchIssuesError } from '../../errors.js';
import { describeError, isAbort } from '../../failure.js';
import type { IssueLister, IssueSyncStore, Log } from '../../ports.js';
import type { RepositoryWorkerSpec } from '../../spec.js';
import { BacklogWalk, WalkStalledError, type WalkLimits } from './backlog-walk.js';

export type PollResult = 'changed' | 'not_modified';

export interface IssuePollerDeps {
  readonly github: IssueLister;
  readonly store: IssueSyncStore;
  /** github.issues.parseInterval, in milliseconds. */
  readonly interval: number;
  readonly requiredLabel: string | undefined;
  /** github.issues.backlog: which issues from before the first sync are queued. */
  readonly backlog: BacklogPolicy;
  readonly log: Log;
  /** Told how each poll ended (metrics). */
  readonly onPoll?: (repository: string, outcome: PollResult | 'error') => void;
  /** Told, after each page saved, that queue jobs were created (wakes the dispatcher). Default: none. */
  readonly onEnqueued?: () => void;
  /** Bounds of one pass (pages, walks of a run of one instant). Default: BacklogWalk's. */
  readonly limits?: WalkLimits;
}

export function issuePoller(deps: IssuePollerDeps): RepositoryWorkerSpec {
  return {
    resource: 'issue-poller',
    interval: deps.interval,
    async work(signal, partition) {
      const repository = fullName(partition);
      try {
        const outcome = await walk(deps, signal, partition);
        await deps.store.recordPoll(partition.repositoryId, { ok: true });
        deps.onPoll?.(repository, outcome);
      } catch (cause) {
        if (!isAbort(cause, signal)) {
          await deps.store.recordPoll(partition.repositoryId, { ok: false, error: describeError(cause) });
          deps.onPoll?.(repository, 'error');
        }
        throw new FetchIssuesError(partition, { cause });
      }
    },
  };
}

async function walk(deps: IssuePollerDeps, signal: AbortSignal, partition: Parameters<RepositoryWorkerSpec['work']>[1]): Promise<PollResult> {
  const repository = fullName(partition);
  const firstSync = await deps.store.markFirstSync(partition.repositoryId);
  const cutoff = backlogCutoff(deps.backlog, firstSync.at);
  const skippedAsBacklog = new Set<number>(); // ids: the walk sees boundary issues twice
  const start = await deps.store.cursor(partition.repositoryId);
  // The first walk reads the repository's history (its first sync time may be older: set when it joined the fleet).
  const firstWalk = firstSync.first || (start.since === null && start.etag === null);
  const backlog = new BacklogWalk(start, deps.limits);
  let issues = 0;
  let enqueued = 0;
  for (;;) {
    const response = await deps.github.listIssues(partition, backlog.cursor, signal);
    if (response.notModified) break;
    for (const item of response.skipped ?? []) {
      const which = item.number === null ? `an issue (id ${item.githubId ?? 'unknown'})` : `issue #${item.number}`;
      deps.log.warn(
        { repository, issue: item.number, githubId: item.githubId, reason: item.reason },
        `skipped ${which} of ${repository}: GitHub sent it malformed (${item.reason}); the rest of the page is stored`,
      );
    }
    const step = backlog.next(response);
    issues += response.issues.length;
    const wanted = response.issues.filter((issue) => wantsAnswer(issue, deps.requiredLabel));
    const jobs = wanted.filter((issue) => !isBacklog(issue, cutoff)).map((issue) => ({ type: ANSWER_JOB, issueGithubId: issue.githubId }));
    for (const issue of wanted) if (isBacklog(issue, cutoff)) skippedAsBacklog.add(issue.githubId);
    const saved = await deps.store.save(partition.repositoryId, response.issues, step.saved, jobs);
    enqueued += saved.enqueued;
    if (saved.enqueued > 0) deps.onEnqueued?.();
    if (!step.more) break;
    if (backlog.exhausted) {
      throw new WalkStalledError(`read ${backlog.pages} pages in one pass without catching up; the next pass goes on from the saved cursor`);
    }
  }
  if (firstWalk && cutoff && backlog.pages > 0) deps.log.info({ repository, backlog: skippedAsBacklog.size, cutoff }, backlogNotice(skippedAsBacklog.size, cutoff, deps.backlog));
  if (backlog.pages === 0) {
    deps.log.debug({ repository }, 'issues not modified (304)');
    return 'not_modified';
  }
  const pages = backlog.pages;
  deps.log.info({ repository, pages, issues, enqueued }, `synced ${issues} issues in ${pages} pages; ${enqueued} queued`);
  return 'changed';
}
