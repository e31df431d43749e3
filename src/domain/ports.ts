/**
 * The ports the domain needs. Adapters in `src/infra/` implement them; domain
 * tasks receive them through their constructors (wired in `src/app.ts`).
 */
import type { Comment, Issue, RemoteRepository, RepositoryComment, RepositoryRef, SyncCursor } from './entities.js';

// ---------------------------------------------------------------- GitHub

export interface ListIssuesRequest {
  /** Issues updated at or after this ISO 8601 time (inclusive); null for all. */
  readonly since: string | null;
  /** 1-based page number. */
  readonly page: number;
  /** ETag of an earlier response to the very same request, for a conditional request. */
  readonly etag: string | null;
}

/** A listed item that failed validation: what could be read of it, and why it was set aside. */
export interface SkippedIssue {
  readonly githubId: number | null;
  /** As GitHub sent it (possibly 0 or negative), or null when it was not a number. */
  readonly number: number | null;
  /** When it is a valid timestamp: it still marks the item's place in the list. */
  readonly updatedAt: string | null;
  readonly reason: string;
}

export type ListIssuesResult =
  | { readonly notModified: true }
  | {
      readonly notModified: false;
      /** Issues and pull requests (flagged), `updated` ascending. */
      readonly issues: readonly Issue[];
      /** Items of the page that failed validation, to be logged and passed over. Default: none. */
      readonly skipped?: readonly SkippedIssue[];
      /** Whether GitHub announced a next page (Link: rel="next"). */
      readonly hasNextPage: boolean;
      /** The response's ETag, to send back as If-None-Match. */
      readonly etag: string | null;
    };

export interface RepositoryReader {
  getRepository(repo: RepositoryRef, signal: AbortSignal): Promise<RemoteRepository>;
}

export interface IssueLister {
  /** One page of `GET /repos/{owner}/{repo}/issues?state=all&sort=updated&direction=asc`. */
  listIssues(repo: RepositoryRef, request: ListIssuesRequest, signal: AbortSignal): Promise<ListIssuesResult>;
}

export interface IssueReader {
  getIssue(repo: RepositoryRef, number: number, signal: AbortSignal): Promise<Issue>;
  /** Every comment of the issue, all pages. */
  listComments(repo: RepositoryRef, number: number, signal: AbortSignal): Promise<Comment[]>;
}

/** A comment of a listing that failed validation, to be logged and passed over. */
export interface SkippedComment {
  readonly githubId: number | null;
  readonly updatedAt: string | null;
  readonly reason: string;
}

export type ListCommentsResult =
  | { readonly notModified: true }
  | {
      readonly notModified: false;
      /** Comments on the repository's issues and pull requests, `updated` ascending. */
      readonly comments: readonly RepositoryComment[];
      readonly skipped: readonly SkippedComment[];
      /** Whether GitHub announced a next page (Link: rel="next"). */
      readonly hasNextPage: boolean;
      readonly etag: string | null;
    };

export interface RepositoryCommentLister {
  /**
   * One page of `GET /repos/{owner}/{repo}/issues/comments?sort=updated&direction=asc&since=…`:
   * every comment of the repository's issues and pull requests updated at or after `since`.
   */
  listRepositoryComments(repo: RepositoryRef, request: ListIssuesRequest, signal: AbortSignal): Promise<ListCommentsResult>;
}

export interface CommentReactor {
  /** Adds a reaction to an issue comment (`eyes`: seen, working on it). Adding one that exists is not an error. */
  addReaction(repo: RepositoryRef, commentId: number, content: 'eyes', signal: AbortSignal): Promise<void>;
}

export interface CreateCommentOptions {
  /**
   * Runs once the write throttle has let the request through, right before it
   * is sent: the last moment to re-check the marker and the claim. A throw
   * cancels the write (nothing is sent) and propagates. Default: none.
   */
  readonly beforeWrite?: (signal: AbortSignal) => Promise<void>;
}

export interface IssueCommenter {
  createComment(repo: RepositoryRef, number: number, body: string, signal: AbortSignal, options?: CreateCommentOptions): Promise<Comment>;
  updateComment(repo: RepositoryRef, commentId: number, body: string, signal: AbortSignal): Promise<Comment>;
}

/** Everything autosolve asks of GitHub. */
export type GitHubPort = RepositoryReader & IssueLister & IssueReader & IssueCommenter & RepositoryCommentLister & CommentReactor;

// ---------------------------------------------------------------- AI executors

/** What an executor gets for one issue. */
export interface ExecutorInput {
  /** `owner/name`. */
  readonly repository: string;
  readonly number: number;
  readonly title: string;
  readonly body: string;
  readonly labels: readonly string[];
  readonly url: string;
  /** The rendered prompt (template filled, issue text fenced off as data). */
  readonly prompt: string;
}

export interface ExecutorOutput {
  /** The answer, Markdown. */
  readonly text: string;
  /** Which model or program produced it, for the comment footer. */
  readonly model: string;
}

/**
 * Runs the AI tool for one issue. Failures are classified by the adapter:
 * node/service errors mean the backend is unreachable or overloaded (the job
 * goes back to the queue without spending an attempt); anything else means the
 * job itself failed (an attempt is spent).
 */
export interface Executor {
  /** For logs and the comment footer, e.g. `ollama llama3.1`. */
  readonly description: string;
  run(input: ExecutorInput, signal: AbortSignal): Promise<ExecutorOutput>;
}

// ---------------------------------------------------------------- logging

/** The logging the domain needs; pino's Logger satisfies it. */
export interface Log {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(bindings: Record<string, unknown>): Log;
}

// ---------------------------------------------------------------- storage

/** Records the repositories the preflight validated. */
export interface RepositoryRecorder {
  /** Upserts the configured repository with GitHub's id, clearing any setup failure; returns our repository id. */
  record(configured: RepositoryRef, remote: RemoteRepository): Promise<number>;
  /** Remembers why setup failed for a configured repository (it may have no GitHub id yet), for `autosolve status`. */
  recordSetupFailure(configured: RepositoryRef, error: string): Promise<void>;
}

/** A queue job the poller asks for, committed with the issues that imply it. */
export interface JobRequest {
  readonly type: string;
  readonly issueGithubId: number;
  /** The comment the job is about (a follow-up's mention); default 0, the issue itself. */
  readonly subjectId?: number;
}

export interface SaveResult {
  /** Issues new or changed since they were last stored. */
  readonly changed: number;
  /** Queue jobs created (coalesced ones not counted). */
  readonly enqueued: number;
}

export type PollOutcome = { readonly ok: true } | { readonly ok: false; readonly error: string };

export interface IssueSyncStore {
  cursor(repositoryId: number): Promise<SyncCursor>;
  /**
   * One transaction: upsert the issues, store the next cursor, enqueue the jobs
   * (only for issues new or changed, never answered before, coalescing into a
   * live job). Either all of it is stored or none.
   */
  save(
    repositoryId: number,
    issues: readonly Issue[],
    nextCursor: SyncCursor,
    jobs: readonly JobRequest[],
  ): Promise<SaveResult>;
  /** Remembers how the latest poll ended, for `autosolve status`. */
  recordPoll(repositoryId: number, outcome: PollOutcome): Promise<void>;
  /** The repository's first sync time, set to now by the first call and never moved; `first` on that call. */
  markFirstSync(repositoryId: number): Promise<{ readonly at: string; readonly first: boolean }>;
}

/** The comment poller's store: its cursor, and its one-transaction save of the cursor with the follow-up jobs a page implies. */
export interface CommentSyncStore {
  /** Where the repository's comment listing resumes (topic `comments`); INITIAL_CURSOR before the first pass. */
  cursor(repositoryId: number): Promise<SyncCursor>;
  /**
   * One transaction: store the next cursor and enqueue the jobs (each about one
   * comment, `subjectId`), except those whose subject was already handled or
   * has a live job. Either all of it is stored or none.
   */
  save(repositoryId: number, nextCursor: SyncCursor, jobs: readonly JobRequest[]): Promise<{ readonly enqueued: number }>;
  /** Remembers how the latest comment poll ended, for `autosolve status`. */
  recordPoll(repositoryId: number, outcome: PollOutcome): Promise<void>;
}

/** When an issue's answer was revised, for ai.maxRevisionsPerIssue. */
export interface RevisionLog {
  /** Finish times (ISO 8601) of the issue's `revise` jobs that ended `revised` at or after `since`, oldest first. */
  revisionsSince(issueGithubId: number, since: string): Promise<string[]>;
}

/** An unanswered issue as stored, with its latest queue job (none, done or dead; never a live one). */
export interface UnansweredIssue {
  readonly issue: Issue;
  readonly latestJob: { readonly state: 'done' | 'dead'; readonly outcome: string | null } | null;
}

/** What the backlog reconciler reads and changes, for one repository. */
export interface BacklogStore {
  /** Our id and first sync time of a repository, or undefined before its first poll. */
  firstSync(repository: RepositoryRef): Promise<{ readonly repositoryId: number; readonly at: string } | undefined>;
  /** Open issues (answer jobs) with no handled job and no live job. */
  unanswered(repositoryId: number): Promise<UnansweredIssue[]>;
  /** Pending answer jobs of the repository, with their issue. */
  pending(repositoryId: number): Promise<Array<{ readonly jobId: number; readonly issue: Issue }>>;
  /** Settles still-pending jobs as `backlog`; returns how many. */
  settleAsBacklog(jobIds: readonly number[]): Promise<number>;
  /** New pending answer jobs (a live job absorbs one); returns how many were created. */
  enqueue(repositoryId: number, issueGithubIds: readonly number[]): Promise<number>;
}

// ---------------------------------------------------------------- queue

/** Where a queue job is in its life. */
export const QUEUE_JOB_STATES = ['pending', 'running', 'done', 'dead'] as const;
export type QueueJobState = (typeof QUEUE_JOB_STATES)[number];

/** A durable dispatch row, claimed by one worker at a time. */
export interface QueueJob {
  readonly id: number;
  readonly type: string;
  readonly repositoryId: number;
  readonly issueGithubId: number;
  /** The comment the job is about (a follow-up's mention); 0: the issue itself. */
  readonly subjectId: number;
  /** Attempts spent, this claim included. */
  readonly attempts: number;
  readonly maxAttempts: number;
  /** Proves the claim is still ours when we complete or fail the job. */
  readonly claimToken: string;
}

/**
 * How a queue job ended. `answered` and `already-answered` mark the issue as
 * handled for good; the others let a later change enqueue it again. `backlog`:
 * settled unanswered because github.issues.backlog now leaves the issue out.
 */
export type JobOutcome =
  | 'answered'
  | 'already-answered'
  | 'dry-run'
  | 'not-eligible'
  | 'backlog'
  /** A re-analysis edited the answer in place. */
  | 'revised'
  /** A re-analysis found the answer already matches the issue's text, or nothing to revise. */
  | 'current'
  /** A rule said `skip: true`. */
  | 'skipped';

/** How a queue job ended, as the dispatcher reports it. */
export interface JobResult {
  readonly outcome: JobOutcome;
  readonly commentUrl?: string;
  /** Secrets removed from the comment before it was posted. Default 0. */
  readonly scrubbed?: number;
  /** A job to queue in the same transaction (coalescing into a live one): a revision after an answer to text that changed meanwhile. Default: none. */
  readonly then?: JobRequest;
  /**
   * The content hash of the issue as stored when the job was claimed, when
   * re-analysis is on: if the issue as stored now hashes otherwise, a sync took
   * an edit while the job ran (the live job absorbed the revision it asked for),
   * and a revision is queued in the same transaction. Compared with what was
   * stored, not with what GitHub showed the job: a store behind GitHub asks
   * nothing until it takes the edit. Default: none.
   */
  readonly claimedHash?: string;
}

export interface DispatchQueue {
  /** Atomically claims up to `limit` visible jobs of these types, each with a lease of `leaseMs`. */
  claim(types: string | readonly string[], limit: number, leaseMs: number): Promise<QueueJob[]>;
  /** Extends the lease to `leaseMs` from now if the claim is still ours (fenced by its token); false when it was lost. */
  renew(job: QueueJob, leaseMs: number): Promise<boolean>;
  /** `scrubbed`: secrets removed from the comment before it was posted (default 0). */
  complete(job: QueueJob, result: JobResult): Promise<void>;
  /**
   * Back to pending without spending the attempt (the backend was unavailable).
   * `error`: why, recorded as the job's last error (`jobs show`). Default: the last error stays as it was.
   */
  release(job: QueueJob, delayMs: number, error?: string): Promise<void>;
  /**
   * Back to pending without spending an attempt, like release(), but counted:
   * the backend failed on this job while it answered others. Dead with `error`
   * once the job has been released `maxReleases` times.
   */
  releaseCounted(job: QueueJob, error: string, maxReleases: number): Promise<{ readonly state: 'released' | 'dead'; readonly releases: number }>;
  /** The attempt failed: pending again after a backoff, or dead after the last attempt. */
  fail(job: QueueJob, error: string): Promise<'retrying' | 'dead'>;
}

// ---------------------------------------------------------------- dispatch

/** An issue as last synced, with the repository it is in now. */
export interface IssueRecord {
  readonly issue: Issue;
  readonly repository: RepositoryRef;
}

export interface IssueCatalog {
  find(issueGithubId: number): Promise<IssueRecord | undefined>;
}

/** What the dispatcher reports, for metrics and progress. */
export interface DispatchObserver {
  executorFinished?(info: { readonly repository: string; readonly durationMs: number; readonly ok: boolean }): void;
  commentPosted?(info: { readonly repository: string; readonly number: number; readonly url: string }): void;
  /** `type`: the queue job's (answer, revise, follow-up); absent where the reporter does not know it. */
  jobSettled?(info: { readonly repository: string; readonly number: number; readonly outcome: string; readonly type?: string }): void;
}
