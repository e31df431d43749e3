/**
 * Worker, per repository: read the comments of the repository's issues and
 * pull requests updated since the last pass (one conditional request per pass
 * in steady state), and queue a follow-up job for each comment that asks for
 * one (src/domain/mention.ts), saving the jobs with the cursor in one
 * transaction. Walked by the same BacklogWalk as the issues, so a busy thread
 * cannot make it lose or loop over comments.
 *
 * History is not a request: the first pass starts at the repository's first
 * sync time (at most `firstPassLookbackMs` back), and a comment written before
 * the first sync is never queued, even when edited later.
 *
 * A follow-up job names the issue by its GitHub id, which the listing does not
 * give (only the number), so it is looked up among the stored issues. A new
 * issue with a mention in its first minutes may not be stored yet (the issue
 * poller has not seen it): skipping the comment would lose the mention for
 * good, since the cursor moves past it. So the pass stops before that page
 * instead, saving nothing of it, and the next pass reads it again; after
 * `holdMs` with the issue still unknown (it should never be: every path stores
 * the issues it lists) the comment is skipped with a warning rather than
 * holding the repository's comments back for ever.
 */
import { fullName, type Partition, type RepositoryComment, type SyncCursor } from '../../entities.js';
import { FOLLOW_UP_JOB } from '../../eligibility.js';
import { FetchCommentsError } from '../../errors.js';
import { describeError, isAbort } from '../../failure.js';
import { asksForFollowUp, mentions, type MentionSettings } from '../../mention.js';
import type { CommentSyncStore, IssueSyncStore, JobRequest, Log, RepositoryCommentLister, SkippedComment } from '../../ports.js';
import type { RepositoryWorkerSpec } from '../../spec.js';
import { BacklogWalk, WalkStalledError, type WalkLimits } from './backlog-walk.js';

export type CommentPollResult = 'changed' | 'not_modified' | 'held';

/** The worker's resource: the fleet nudges it alone when a stream saw a repository's issues change. */
export const COMMENT_POLLER = 'comment-poller';

/** Default `holdMs`: an issue poller that has not stored a new issue after an hour is not coming. */
export const DEFAULT_HOLD_MS = 60 * 60_000;

/**
 * Default `firstPassLookbackMs`. A repository watched since before this
 * worker existed has a first sync months old; its mentions since then were
 * not made to a bot that answered mentions, and answering them now would be
 * spam. An hour still covers a fresh start, where the issue poller's first
 * pass and this one are minutes apart.
 */
export const DEFAULT_FIRST_PASS_LOOKBACK_MS = 60 * 60_000;

export interface CommentPollerDeps {
  readonly github: RepositoryCommentLister;
  readonly store: CommentSyncStore;
  /** The repository's first sync time (the issue store's; the first call sets it). */
  readonly firstSync: Pick<IssueSyncStore, 'markFirstSync'>;
  /** The GitHub id of the stored issue (or pull request) with this number in the repository; undefined when it is not stored. */
  readonly issueIdOf: (repositoryId: number, issueNumber: number) => Promise<number | undefined>;
  /** ai.mention and ai.mentionFrom. */
  readonly mention: MentionSettings;
  /** How often a pass runs, in milliseconds (the issue poller's github.issues.parseInterval). */
  readonly interval: number;
  readonly log: Log;
  /** Told how each poll ended (metrics). Default: none. */
  readonly onPoll?: (repository: string, outcome: CommentPollResult | 'error') => void;
  /** Told, after each page saved, that follow-up jobs were queued (wakes the dispatcher). Default: none. */
  readonly onEnqueued?: () => void;
  /** Bounds of one pass (pages, walks of a run of one instant). Default: BacklogWalk's. */
  readonly limits?: WalkLimits;
  /** How long after its last update a mention on an issue not stored yet holds the walk back. Default DEFAULT_HOLD_MS. */
  readonly holdMs?: number;
  /** How far back the very first pass reads, at most. Default DEFAULT_FIRST_PASS_LOOKBACK_MS. */
  readonly firstPassLookbackMs?: number;
  /** Epoch milliseconds. Default Date.now. */
  readonly now?: () => number;
}

export function commentPoller(deps: CommentPollerDeps): RepositoryWorkerSpec {
  return {
    resource: COMMENT_POLLER,
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
        throw new FetchCommentsError(partition, { cause });
      }
    },
  };
}

async function walk(deps: CommentPollerDeps, signal: AbortSignal, partition: Partition): Promise<CommentPollResult> {
  const repository = fullName(partition);
  const now = deps.now ?? Date.now;
  const firstSync = await deps.firstSync.markFirstSync(partition.repositoryId);
  const backlog = new BacklogWalk(await startCursor(deps, partition, firstSync.at, now()), deps.limits);
  let comments = 0;
  let enqueued = 0;
  for (;;) {
    const response = await deps.github.listRepositoryComments(partition, backlog.cursor, signal);
    if (response.notModified) break;
    logSkipped(deps.log, repository, response.skipped);
    const step = backlog.next({ issues: response.comments, skipped: response.skipped, hasNextPage: response.hasNextPage, etag: response.etag });
    const found = await followUps(deps, partition, response.comments, Date.parse(firstSync.at), now());
    if (found.held !== undefined) {
      deps.log.info(
        { repository, issue: found.held.issueNumber, comment: found.held.githubId },
        `${repository}#${found.held.issueNumber}: a comment asks for a follow-up, but the issue is not stored yet; the next pass reads its page again`,
      );
      return 'held';
    }
    comments += response.comments.length;
    const saved = await deps.store.save(partition.repositoryId, step.saved, found.jobs);
    enqueued += saved.enqueued;
    if (saved.enqueued > 0) deps.onEnqueued?.();
    if (!step.more) break;
    if (backlog.exhausted) {
      throw new WalkStalledError(`read ${backlog.pages} pages of comments in one pass without catching up; the next pass goes on from the saved cursor`);
    }
  }
  if (backlog.pages === 0) {
    deps.log.debug({ repository }, 'comments not modified (304)');
    return 'not_modified';
  }
  const pages = backlog.pages;
  deps.log.info({ repository, pages, comments, enqueued }, `read ${comments} comments in ${pages} pages; ${enqueued} follow-ups queued`);
  return 'changed';
}

/** The stored cursor; before the first pass, the first sync time (or the lookback limit, when that is later). */
async function startCursor(deps: CommentPollerDeps, partition: Partition, firstSyncAt: string, now: number): Promise<SyncCursor> {
  const stored = await deps.store.cursor(partition.repositoryId);
  if (stored.since !== null || stored.etag !== null) return stored;
  const earliest = now - (deps.firstPassLookbackMs ?? DEFAULT_FIRST_PASS_LOOKBACK_MS);
  const since = Date.parse(firstSyncAt) >= earliest ? firstSyncAt : new Date(earliest).toISOString();
  return { since, page: 1, etag: null };
}

/**
 * The follow-up jobs a page implies, or the first asking comment whose issue
 * is not stored yet and is still within `holdMs` (the page must not be saved).
 */
async function followUps(
  deps: CommentPollerDeps,
  partition: Partition,
  page: readonly RepositoryComment[],
  firstSyncAt: number,
  now: number,
): Promise<{ readonly jobs: JobRequest[]; readonly held?: RepositoryComment }> {
  const repository = fullName(partition);
  const jobs: JobRequest[] = [];
  for (const comment of page) {
    const where = { repository, issue: comment.issueNumber, comment: comment.githubId };
    const verdict = asksForFollowUp(comment, deps.mention);
    if (!verdict.asks) {
      if (mentions(comment.body, deps.mention.handle)) deps.log.debug({ ...where, reason: verdict.reason }, `${repository}#${comment.issueNumber}: a mention that does not ask: ${verdict.reason}`);
      continue;
    }
    if (Date.parse(comment.createdAt) < firstSyncAt) {
      deps.log.debug(where, `${repository}#${comment.issueNumber}: a mention from before the first sync, not answered`);
      continue;
    }
    const issueGithubId = await deps.issueIdOf(partition.repositoryId, comment.issueNumber);
    if (issueGithubId === undefined) {
      if (now - Date.parse(comment.updatedAt) < (deps.holdMs ?? DEFAULT_HOLD_MS)) return { jobs, held: comment };
      deps.log.warn(where, `${repository}#${comment.issueNumber}: skipped a comment asking for a follow-up: the issue is still not stored`);
      continue;
    }
    jobs.push({ type: FOLLOW_UP_JOB, issueGithubId, subjectId: comment.githubId });
  }
  return { jobs };
}

function logSkipped(log: Log, repository: string, skipped: readonly SkippedComment[]): void {
  for (const item of skipped) {
    log.warn(
      { repository, githubId: item.githubId, reason: item.reason },
      `skipped a comment (id ${item.githubId ?? 'unknown'}) of ${repository}: GitHub sent it malformed (${item.reason}); the rest of the page is read`,
    );
  }
}
