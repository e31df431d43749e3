/**
 * The ports the fleet needs: organisation listings, scope streams and sweeps
 * on the GitHub side, membership and stream cursors on the store side.
 */
import type { RepositoryRef, SyncCursor } from '../entities.js';
import type { JobRequest, ListIssuesRequest, PollOutcome, SkippedIssue } from '../ports.js';
import type { DetectionPath, DiscoveredRepository, FleetEntry, IssueScope, ScopedIssue, SweepOutcome } from './types.js';

// ---------------------------------------------------------------- GitHub

export interface OrganizationLister {
  /**
   * Every repository of the organisation the token can see
   * (`GET /orgs/{org}/repos?type=all&per_page=100`, all pages, bounded like
   * every walk). Malformed items are left out and counted. An organisation
   * that does not exist or is not visible throws, classified as permanent.
   */
  listOrganizationRepositories(org: string, signal: AbortSignal): Promise<{ readonly repositories: DiscoveredRepository[]; readonly skipped: number }>;
}

export type ListScopeIssuesResult =
  | { readonly notModified: true }
  | {
      readonly notModified: false;
      /** Issues and pull requests of every repository in the scope, `updated` ascending. */
      readonly items: readonly ScopedIssue[];
      readonly skipped: readonly SkippedIssue[];
      readonly hasNextPage: boolean;
      readonly etag: string | null;
    };

export interface ScopeIssueLister {
  /**
   * One page of `GET /orgs/{org}/issues` (or `GET /issues`) with
   * `filter=all&state=all&sort=updated&direction=asc&per_page=100`, `since`,
   * `page` and `If-None-Match` from the request.
   */
  listScopeIssues(scope: IssueScope, request: ListIssuesRequest, signal: AbortSignal): Promise<ListScopeIssuesResult>;
}

export interface RepositorySweeper {
  /**
   * One GraphQL query over the batch: for each repository (same order), the
   * newest update of its issues and pull requests, or why GitHub could not
   * say (a per-alias error). A failure of the whole query throws, classified
   * (a timeout, 502 and the like are `service`/`node`; the caller splits).
   */
  sweep(batch: readonly RepositoryRef[], signal: AbortSignal): Promise<SweepOutcome[]>;
}

// ---------------------------------------------------------------- store

export interface FleetStore {
  /**
   * Records what discovery found in one organisation, in one transaction:
   * repositories new to the fleet are added (source `discovered`), known ones
   * (by GitHub id) take the listed name, and discovered members of that
   * organisation no longer listed are dropped. Configured repositories are
   * never dropped by discovery.
   */
  syncOrganization(org: string, listed: readonly DiscoveredRepository[]): Promise<{ readonly added: FleetEntry[]; readonly dropped: FleetEntry[]; readonly members: FleetEntry[] }>;
  /** Drops one discovered member (gone or no longer accessible), remembering why. */
  drop(repositoryId: number, reason: string): Promise<void>;
  /** Every member: configured repositories that passed setup, discovered ones not dropped. */
  members(): Promise<FleetEntry[]>;
  /** The newest `updated_at` stored per repository id (repositories without issues are absent). */
  watermarks(): Promise<Map<number, string>>;
  /** Sets the first sync time of members that have none to now (one statement). */
  markJoined(repositoryIds: readonly number[]): Promise<void>;
  /** Remembers each member's detection path, for `status` and the dashboard. */
  recordPaths(paths: ReadonlyMap<number, DetectionPath>): Promise<void>;
}

/** An issue of a scope page, placed in its repository. */
export interface ScopedIssueRecord {
  readonly repositoryId: number;
  readonly issue: ScopedIssue['issue'];
}

export interface ScopeSyncStore {
  /** Where the scope's stream resumes (`scopeKey`). */
  cursor(scope: string): Promise<SyncCursor>;
  /**
   * One transaction: upsert the page's issues (each into its repository),
   * enqueue the jobs they imply (as IssueSyncStore.save does: only for new or
   * changed issues, never for handled ones, coalescing into live jobs), and
   * store the scope's next cursor. Returns the ids of repositories with new
   * or changed issues.
   */
  save(
    scope: string,
    issues: readonly ScopedIssueRecord[],
    next: SyncCursor,
    jobs: ReadonlyArray<JobRequest & { readonly repositoryId: number }>,
  ): Promise<{ readonly changed: number; readonly enqueued: number; readonly changedRepositories: readonly number[] }>;
  /** How the scope's latest pass ended, for `status`. */
  recordPoll(scope: string, outcome: PollOutcome): Promise<void>;
}
