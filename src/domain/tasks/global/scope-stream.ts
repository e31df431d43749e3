/**
 * Worker, global, one per streamed organisation: read every issue change of the
 * organisation from `GET /orgs/{org}/issues` (one request per 100 changes,
 * whatever the fleet's size) with the issue poller's walk, and store each page's
 * issues, the jobs they imply and the cursor in one transaction. Only members
 * on the stream path are stored here; a member of another path is covered by
 * its own path, a repository outside the fleet by nobody.
 */
import { ANSWER_JOB, backlogCutoff, describeBacklogPolicy, isBacklog, wantsAnswer, type BacklogPolicy } from '../../eligibility.js';
import { StreamIssuesError } from '../../fleet/errors.js';
import type { Fleet, FleetMember } from '../../fleet/fleet.js';
import type { FleetStore, ScopedIssueRecord, ScopeIssueLister, ScopeSyncStore } from '../../fleet/ports.js';
import { instant } from '../../fleet/sweep-schedule.js';
import { scopeKey, type IssueScope, type ScopedIssue } from '../../fleet/types.js';
import { describeError, failureKindOf, isAbort } from '../../failure.js';
import type { JobRequest, Log } from '../../ports.js';
import type { GlobalWorkerSpec } from '../../spec.js';
import { BacklogWalk, WalkStalledError, type WalkLimits } from '../repository/backlog-walk.js';
import type { PollResult } from '../repository/issue-poller.js';

export interface ScopeStreamDeps {
  readonly github: ScopeIssueLister;
  readonly store: ScopeSyncStore;
  /** Sets the first sync time of a member the stream meets before discovery did. */
  readonly fleetStore: Pick<FleetStore, 'markJoined'>;
  readonly fleet: Fleet;
  /** How often the stream is read, in milliseconds (the poller's parseInterval). */
  readonly interval: number;
  readonly requiredLabel: string | undefined;
  /** github.issues.backlog: which issues from before a member joined are queued. */
  readonly backlog: BacklogPolicy;
  readonly log: Log;
  /** Told how each pass ended (metrics), with the organisation. */
  readonly onPoll?: (organization: string, outcome: PollResult | 'error') => void;
  /** Told, after each page saved, that queue jobs were created (wakes the dispatcher). Default: none. */
  readonly onEnqueued?: () => void;
  /** Bounds of one pass. Default: BacklogWalk's. */
  readonly limits?: WalkLimits;
  /**
   * Told after each pass whether the stream works for this token: false after
   * a permanent failure (an installation token, or no access to the
   * organisation's issues), true after a pass that read it. Default: none.
   */
  readonly onAvailability?: (organization: string, available: boolean, cause?: unknown) => void;
  /**
   * Told, after each page saved, of each repository whose issues it changed,
   * with the newest `updated_at` among them: a comment moves its issue's
   * updated_at, so the repository's comments may hold a mention (the stream
   * stores issues, not comments). Default: none.
   */
  readonly onRepositoryChanged?: (repositoryId: number, newestUpdatedAt: string) => void;
  /** How far behind a caught-up pass's start the stream counts as complete. Default STREAM_LAG_MS. */
  readonly lagMs?: number;
  /** Default: Date.now. */
  readonly now?: () => number;
}

/**
 * How far behind the start of a caught-up pass the stream counts as having
 * read everything: room for GitHub's listing to catch up with a write and for
 * our clock being ahead of GitHub's. Too small only costs a needless walk of a
 * repository a sweep finds newer; too large only delays catching a missed one.
 */
export const STREAM_LAG_MS = 5 * 60_000;

/** `issue-stream-acme`: the worker's resource name (lower-case words joined by "-"). */
export function streamResource(organization: string): string {
  return `issue-stream-${organization.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`;
}

export function scopeStream(deps: ScopeStreamDeps, organization: string): GlobalWorkerSpec {
  const scope: IssueScope = { kind: 'organization', org: organization };
  const key = scopeKey(scope);
  return {
    resource: streamResource(organization),
    interval: deps.interval,
    detects: true,
    async work(signal) {
      try {
        const outcome = await stream(deps, scope, signal);
        await deps.store.recordPoll(key, { ok: true });
        deps.onPoll?.(organization, outcome);
        deps.onAvailability?.(organization, true);
      } catch (cause) {
        if (!isAbort(cause, signal)) {
          await deps.store.recordPoll(key, { ok: false, error: describeError(cause) });
          deps.onPoll?.(organization, 'error');
          if (failureKindOf(cause) === 'permanent') deps.onAvailability?.(organization, false, cause);
        }
        throw new StreamIssuesError(organization, { cause });
      }
    },
  };
}

interface PassCounts {
  issues: number;
  stored: number;
  enqueued: number;
  newestSeen: number;
  readonly backlog: Set<number>;
}

async function stream(deps: ScopeStreamDeps, scope: IssueScope & { kind: 'organization' }, signal: AbortSignal): Promise<PollResult> {
  const org = scope.org;
  const key = scopeKey(scope);
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const walk = new BacklogWalk(await deps.store.cursor(key), deps.limits);
  const counts: PassCounts = { issues: 0, stored: 0, enqueued: 0, newestSeen: Number.NEGATIVE_INFINITY, backlog: new Set() };
  for (;;) {
    const response = await deps.github.listScopeIssues(scope, walk.cursor, signal);
    if (response.notModified) break;
    for (const item of response.skipped) {
      const which = item.number === null ? `an issue (id ${item.githubId ?? 'unknown'})` : `issue #${item.number}`;
      deps.log.warn(
        { organization: org, issue: item.number, githubId: item.githubId, reason: item.reason },
        `skipped ${which} in organisation ${org}: GitHub sent it malformed (${item.reason}); the rest of the page is stored`,
      );
    }
    const step = walk.next({ issues: response.items.map((item) => item.issue), skipped: response.skipped, hasNextPage: response.hasNextPage, etag: response.etag });
    counts.issues += response.items.length;
    const page = await placeItems(deps, response.items, counts);
    const saved = await deps.store.save(key, page.records, step.saved, page.jobs);
    counts.stored += page.records.length;
    counts.enqueued += saved.enqueued;
    for (const repositoryId of saved.changedRepositories) {
      const newest = page.newest.get(repositoryId);
      if (newest === undefined) continue;
      deps.fleet.changed(repositoryId, newest);
      deps.onRepositoryChanged?.(repositoryId, newest);
    }
    if (saved.enqueued > 0) deps.onEnqueued?.();
    // Everything updated before the saved `since` has been read (a run at that instant may not be yet).
    if (step.saved.since !== null) deps.fleet.streamed(org, instant(step.saved.since) - 1);
    if (!step.more) break;
    if (walk.exhausted) {
      throw new WalkStalledError(`read ${walk.pages} pages in one pass without catching up; the next pass goes on from the saved cursor`);
    }
  }
  // Caught up: every change up to the newest one listed, and up to shortly before the pass began, has been read.
  deps.fleet.streamed(org, Math.max(counts.newestSeen, startedAt - (deps.lagMs ?? STREAM_LAG_MS)));
  if (counts.backlog.size > 0) {
    deps.log.info(
      { organization: org, backlog: counts.backlog.size },
      `${counts.backlog.size} issues of organisation ${org} from before their repository joined the fleet skipped as backlog ` +
        `(github.issues.backlog: ${describeBacklogPolicy(deps.backlog)}); set github.issues.backlog: answer or a duration to answer them`,
    );
  }
  if (walk.pages === 0) {
    deps.log.debug({ organization: org }, `issues of organisation ${org} not modified (304)`);
    return 'not_modified';
  }
  const { issues, stored, enqueued } = counts;
  const pages = walk.pages;
  deps.log.info(
    { organization: org, pages, issues, stored, enqueued },
    `organisation ${org}: synced ${issues} issues in ${pages} pages (${stored} of stream-path members stored); ${enqueued} queued`,
  );
  return 'changed';
}

interface PlacedPage {
  readonly records: ScopedIssueRecord[];
  readonly jobs: Array<JobRequest & { readonly repositoryId: number }>;
  /** The newest `updated_at` of the page per repository id. */
  readonly newest: Map<number, string>;
}

/** The page's issues placed in their stream-path members, with the jobs they imply (as the issue poller does). */
async function placeItems(deps: ScopeStreamDeps, items: readonly ScopedIssue[], counts: PassCounts): Promise<PlacedPage> {
  const placed: Array<{ member: FleetMember; item: ScopedIssue }> = [];
  for (const item of items) {
    const at = instant(item.issue.updatedAt);
    if (at > counts.newestSeen) counts.newestSeen = at;
    const member = deps.fleet.forStreamItem(item.repository);
    if (member?.path === 'stream') placed.push({ member, item });
  }
  await markJoined(deps, placed.map(({ member }) => member));
  const records: ScopedIssueRecord[] = [];
  const jobs: Array<JobRequest & { readonly repositoryId: number }> = [];
  const newest = new Map<number, string>();
  for (const { member, item } of placed) {
    const repositoryId = member.partition.repositoryId;
    records.push({ repositoryId, issue: item.issue });
    const seen = newest.get(repositoryId);
    if (seen === undefined || instant(item.issue.updatedAt) > instant(seen)) newest.set(repositoryId, item.issue.updatedAt);
    if (!wantsAnswer(item.issue, deps.requiredLabel)) continue;
    // markJoined above gave every member a first sync time; were one missing, now is the cautious cutoff.
    const cutoff = backlogCutoff(deps.backlog, member.firstSyncedAt ?? new Date((deps.now ?? Date.now)()).toISOString());
    if (isBacklog(item.issue, cutoff)) counts.backlog.add(item.issue.githubId);
    else jobs.push({ type: ANSWER_JOB, issueGithubId: item.issue.githubId, repositoryId });
  }
  return { records, jobs, newest };
}

/** A member met before discovery marked it (a configured repository of a streamed organisation) joins now. */
async function markJoined(deps: ScopeStreamDeps, members: readonly FleetMember[]): Promise<void> {
  const ids = [...new Set(members.filter((member) => member.firstSyncedAt === null).map((member) => member.partition.repositoryId))];
  if (ids.length === 0) return;
  await deps.fleetStore.markJoined(ids);
  deps.fleet.joined(ids, new Date((deps.now ?? Date.now)()).toISOString());
}
