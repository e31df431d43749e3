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
import { nextStep } from './backlog-walk.js';

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
  const firstSync = await deps.store.markFirstSync(partition.repositoryId);
  const cutoff = backlogCutoff(deps.backlog, firstSync.at);
  const backlog = new Set<number>(); // ids: the walk sees boundary issues twice
  let cursor = await deps.store.cursor(partition.repositoryId);
  let pages = 0;
  let issues = 0;
  let enqueued = 0;
  for (;;) {
    const response = await deps.github.listIssues(partition, cursor, signal);
    if (response.notModified) break;
    pages++;
    issues += response.issues.length;
    const step = nextStep(cursor, response);
    const wanted = response.issues.filter((issue) => wantsAnswer(issue, deps.requiredLabel));
    const jobs = wanted.filter((issue) => !isBacklog(issue, cutoff)).map((issue) => ({ type: ANSWER_JOB, issueGithubId: issue.githubId }));
    for (const issue of wanted) if (isBacklog(issue, cutoff)) backlog.add(issue.githubId);
    const saved = await deps.store.save(partition.repositoryId, response.issues, step.cursor, jobs);
    enqueued += saved.enqueued;
    cursor = step.cursor;
    if (!step.more) break;
  }
  if (firstSync.first && cutoff) deps.log.info({ repository: fullName(partition), backlog: backlog.size, cutoff }, backlogNotice(backlog.size, cutoff, deps.backlog));
  if (pages === 0) {
    deps.log.debug({ repository: fullName(partition) }, 'issues not modified (304)');
    return 'not_modified';
  }
  deps.log.info({ repository: fullName(partition), pages, issues, enqueued }, `synced ${issues} issues in ${pages} pages; ${enqueued} queued`);
  return 'changed';
}
